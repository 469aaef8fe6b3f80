# deskpulse — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
QUIX_VENV  := .venv-quix
QUIX_STAMP := $(QUIX_VENV)/.installed

.PHONY: run test unit integration bench bench-peers-venv faults lint schema package clean kafka-jars

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deskpulse needs Python >= 3.11 (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## make run: install, then run the demo on the embedded stack, print the report and write
## its HTML page into $(DEMO_DIR)
DEMO_DIR ?= build/demo
run: $(STAMP)
	$(VENV)/bin/deskpulse demo --html $(DEMO_DIR)/report.html

## make test: install, then run the whole test suite
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

## make bench: measure speed and memory; prints and records the numbers in BENCHMARKS.md
bench: $(STAMP) $(QUIX_STAMP)
	$(PY) -m tests.bench.run

## make bench-peers-venv: Quix Streams for the side-by-side bench, in a virtualenv of its own
## (it pins an older confluent-kafka than deskpulse's; nothing of deskpulse needs it)
bench-peers-venv: $(QUIX_STAMP)

$(QUIX_STAMP): Makefile
	$(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/python -m pip install --quiet 'quixstreams==3.28.1' 'orjson>=3.9' 'msgspec>=0.22'
	@touch $(QUIX_STAMP)

## make faults: the fault matrix at full size (2-minute broker outage, a minute of failing
## writes); `make test` runs it small
faults: $(STAMP)
	FAULTS_SCALE=full $(PY) -m pytest -p no:timeout tests/faults -v

## the pinned Apache Kafka release for the real-Kafka tests, from Maven Central into
## ~/.cache/deskpulse (DESKPULSE_KAFKA_CACHE); the tests fetch it themselves when missing
kafka-jars: $(STAMP)
	$(PY) -m tests.helpers.kafka

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

## regenerate schemas/activity.v1.schema.json from the Python definition
schema: $(STAMP)
	$(PY) -m schemas.jsonschema

PKG_STAMP := $(VENV)/.package-installed
$(PKG_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,package]'
	@touch $(PKG_STAMP)

## make package: the frozen collector (PyInstaller, no Python needed on the desktop) and its
## .deb and .rpm for Linux x86_64, in build/package/ (deploy/packaging/README.md)
package: $(PKG_STAMP)
	PY=$(PY) deploy/packaging/build.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

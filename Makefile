# deskpulse — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration bench faults lint schema clean

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
bench: $(STAMP)
	$(PY) -m tests.bench.run

## make faults: the fault matrix at full size (2-minute broker outage, a minute of failing
## writes); `make test` runs it small
faults: $(STAMP)
	FAULTS_SCALE=full $(PY) -m pytest -p no:timeout tests/faults -v

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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

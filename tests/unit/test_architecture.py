"""One direction of dependency: face -> operations -> stages -> kernel (README "Layout").

The import contracts are in pyproject.toml ([tool.importlinter]); import-linter checks
them over the static import graph (function-level imports included). The graph cannot
see what an import loads at run time, so the pure modules are also imported each in a
fresh interpreter, and what it loaded is read from ``sys.modules``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = ("confluent_kafka", "faust", "aiokafka", "clickhouse_connect", "chdb")


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _lint(*contracts: str) -> subprocess.CompletedProcess:
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, "
            f"no_logo=True, limit_to_contracts={contracts!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_import_contracts_are_kept() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and f"{len(_contracts())} kept" in done.stdout


def test_the_contracts_cover_the_stages_the_kernel_and_the_pure_modules() -> None:
    contracts = _contracts()
    assert contracts["layers"]["layers"] == ["deskpulse.cli", "deskpulse.ops",
                                             "collector | streams | sinks",
                                             "deskpulse.adapters",
                                             "deskpulse.core : schemas"]
    # no stage imports another, and no layer has exceptions
    assert "ignore_imports" not in contracts["layers"]
    # deskpulse.ops holds the embedded stack (fcntl, Kafka admin): the collector, which runs
    # on Windows too, finds a running stack through deskpulse.core.stackfile instead
    assert {"deskpulse.cli", "deskpulse.ops", "click"} <= \
        set(contracts["stages"]["forbidden_modules"])
    assert set(IO_LIBRARIES) | {"click", "collector", "streams", "sinks"} <= \
        set(contracts["kernel"]["forbidden_modules"])
    assert set(IO_LIBRARIES) <= set(contracts["pure"]["forbidden_modules"])
    assert {"streams.batch", "streams.metrics", "collector.agent"} <= \
        set(contracts["pure"]["source_modules"])


def _pure_modules() -> list[str]:
    kernel = sorted(f"deskpulse.core.{p.stem}" for p in (ROOT / "deskpulse" / "core").glob("*.py")
                    if p.stem != "__init__")
    contract = sorted(f"schemas.{p.stem}" for p in (ROOT / "schemas").glob("*.py")
                      if p.stem != "__init__")
    return [*kernel, *contract, *_contracts()["pure"]["source_modules"]]


@pytest.mark.parametrize("module", _pure_modules())
def test_importing_a_pure_module_loads_no_io_library(module: str) -> None:
    code = (f"import sys, {module}; "
            f"print(' '.join(m for m in {IO_LIBRARIES + ('click',)!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"importing {module} loaded {done.stdout.strip()}"


def test_the_package_root_imports_nothing() -> None:
    tree = ast.parse((ROOT / "deskpulse" / "__init__.py").read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports == []


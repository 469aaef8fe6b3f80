"""A store migrated up to (not including) one migration, for tests of that migration.

The tests run their scripts in a fresh interpreter (a chDB store belongs to one process);
:func:`store_before` is the script's opening: a ``store`` on the chDB path in ``argv[1]``,
a ``rows(sql)`` helper, and every migration below ``version`` applied and recorded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def store_before(version: int) -> str:
    return textwrap.dedent(f"""
        import sys, time, orjson
        from sinks import migrate, retention
        from sinks.writer import ClientStore, connect
        store = ClientStore(connect("chdb://" + sys.argv[1]))
        def rows(sql):
            return [list(r) for r in store.query(sql)[1]]
        migrate.applied_versions(store)  # the ledger
        for m in migrate.load_migrations():  # the store as it was before {version:04d}
            if m.version < {version}:
                for statement in m.statements():
                    store.command(statement)
                store.command("INSERT INTO deskpulse.schema_migrations (version, name, checksum) "
                              f"VALUES ({{m.version}}, '{{m.name}}', '{{m.checksum}}')")
    """)


def run_in_store(script: str, store: Path, timeout: float = 300) -> dict:
    """Run a script opened by :func:`store_before` on a fresh chDB store at ``store``, in a
    process of its own, and return the JSON object its last line printed."""
    done = subprocess.run([sys.executable, "-c", script, str(store)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    return orjson.loads(done.stdout.strip().splitlines()[-1])

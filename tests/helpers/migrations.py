"""A store migrated up to (not including) one migration, for tests of that migration.

The tests run their scripts in a fresh interpreter (a chDB store belongs to one process);
:func:`store_before` is the script's opening: a ``store`` on the chDB path in ``argv[1]``,
a ``rows(sql)`` helper, and every migration below ``version`` applied and recorded.
"""

from __future__ import annotations

import textwrap


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

"""Versioned SQL migrations, applied once each and recorded in ``deskpulse.schema_migrations``.

The plan is computed without I/O (:func:`plan`); :func:`apply` runs it on a
client. Files are ``NNNN_name.sql`` in ``sinks/migrations``; statements are
separated by a ``;`` at the end of a line.

A migration that rebuilds a table (``CREATE OR REPLACE TABLE``, e.g. to change its
sorting key) states the default TTL; the runner puts back the retention the table
had before (``deskpulse db retention``), so an upgrade never changes how long data
is kept. A migration that moves a table's rows into a new table says so in a comment
line ``-- keeps retention: OLD -> NEW``; the runner gives NEW the retention OLD had.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from deskpulse.core.sql import SqlStore

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_REBUILD = re.compile(r"^CREATE OR REPLACE TABLE deskpulse\.(\w+)\s*\(")
_MOVED = re.compile(r"^-- keeps retention: (\w+) -> (\w+)$", re.M)
_TTL_DAYS = re.compile(r"\bTTL (.*?) \+ toIntervalDay\((\d+)\)")
LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS deskpulse.schema_migrations "
    "(version UInt32, name String, checksum String, applied_at DateTime('UTC') DEFAULT now()) "
    "ENGINE = MergeTree ORDER BY version"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines()
                         if not line.lstrip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]

    def moved_tables(self) -> dict[str, str]:
        """Old table -> the new table that takes its rows (and its retention)."""
        return dict(_MOVED.findall(self.sql))

    def rebuilt_tables(self) -> set[str]:
        """Tables this migration rebuilds (``CREATE OR REPLACE TABLE``)."""
        return {m.group(1) for s in self.statements() if (m := _REBUILD.match(s))}


def load_migrations() -> list[Migration]:
    folder = resources.files("sinks") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def plan(migrations: list[Migration], applied: set[int]) -> list[Migration]:
    return [m for m in migrations if m.version not in applied]


def applied_versions(client: SqlStore) -> set[int]:
    client.command("CREATE DATABASE IF NOT EXISTS deskpulse")
    client.command(LEDGER_DDL)
    _, rows = client.query("SELECT version FROM deskpulse.schema_migrations")
    return {int(row[0]) for row in rows}


def _ttl_days(client: SqlStore, moved: dict[str, str]) -> dict[str, int]:
    """New table -> the days of the TTL its old table has now (old tables without one: out)."""
    if not moved:
        return {}
    _, rows = client.query("SELECT name, engine_full FROM system.tables "
                           "WHERE database = 'deskpulse'")
    engines = {name: engine for name, engine in rows}
    out = {}
    for old, new in moved.items():
        match = _TTL_DAYS.search(engines.get(old, ""))
        if match:
            out[new] = int(match.group(2))
    return out


def apply(client: SqlStore, until: int | None = None) -> list[Migration]:
    """Apply every pending migration (up to version ``until``, for the tests of one
    migration); returns what was applied (empty when up to date)."""
    from sinks import retention
    todo = [m for m in plan(load_migrations(), applied_versions(client))
            if until is None or m.version <= until]
    for migration in todo:
        logger.info("applying migration %04d_%s", migration.version, migration.name)
        rebuilt = migration.rebuilt_tables()
        kept = {name: days for name, days in retention.current(client).items()
                if days is not None and retention.RETENTION[name][0] in rebuilt} \
            if rebuilt else {}
        moved = _ttl_days(client, migration.moved_tables())
        for statement in migration.statements():
            client.command(statement)
        for new, days in moved.items():
            name = next(n for n, (table, _) in retention.RETENTION.items() if table == new)
            logger.info("keeping the retention of %s at %d days in %s", name, days, new)
            client.command(retention.statement(name, days))
        after = retention.current(client) if kept else {}
        for name, days in kept.items():
            if after.get(name) != days:
                logger.info("keeping the retention of %s at %d days", name, days)
                client.command(retention.statement(name, days))
        client.command(
            "INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES "
            f"({migration.version}, '{migration.name}', '{migration.checksum}')"
        )
    return todo

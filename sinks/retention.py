"""Retention per table: ClickHouse TTLs, shown and changed by ``deskpulse db retention``.

Defaults (migration 0002): spans 90 days, minute, hour and day rollups 730
days, dead letters 30 days. Expired rows go at the next merge.
"""

from __future__ import annotations

import re

from deskpulse.core.errors import ConfigError
from deskpulse.core.sql import SqlStore

#: name -> (table, the expression rows expire from)
RETENTION = {
    "spans": ("spans_store", "toDateTime(start)"),
    "minutes": ("minutes_store", "minute"),
    "hours": ("hours_agg", "hour"),
    "days": ("days_agg", "day"),
    "deadletter": ("deadletter_store", "toDateTime(received_at)"),
}
_TTL_DAYS = re.compile(r"\bTTL .*?\+ toIntervalDay\((\d+)\)")


def parse_assignment(text: str) -> tuple[str, int]:
    """``"spans=90"`` -> ``("spans", 90)``, or a :class:`ConfigError` saying what is wrong."""
    name, _, days = text.partition("=")
    if name not in RETENTION or not days.isdigit() or not 1 <= int(days) <= 36_500:
        raise ConfigError(f"retention {text!r} is not NAME=DAYS with NAME one of "
                          f"{', '.join(RETENTION)} and DAYS from 1 to 36500")
    return name, int(days)


def statement(name: str, days: int) -> str:
    table, expr = RETENTION[name]
    return f"ALTER TABLE deskpulse.{table} MODIFY TTL {expr} + INTERVAL {days} DAY"


def current(store: SqlStore) -> dict[str, int | None]:
    """Days each table keeps (None: no TTL)."""
    _, rows = store.query("SELECT name, engine_full FROM system.tables "
                          "WHERE database = 'deskpulse'")
    engines = {name: engine for name, engine in rows}
    out: dict[str, int | None] = {}
    for name, (table, _) in RETENTION.items():
        match = _TTL_DAYS.search(engines.get(table, ""))
        out[name] = int(match.group(1)) if match else None
    return out

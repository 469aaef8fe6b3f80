"""The rollup refresh: hours_agg and days_agg recomputed from the deduplicated minutes.

``hours_agg`` and ``days_agg`` (migration 0007) hold one row per (tenant, user, host, app,
domain, category, productivity, hour/day) and are written only here. :func:`refresh`:

1. takes the watermark ``t0`` (the server's clock, minus 1 ms) while no write of this
   process is in flight (:data:`WRITES`, which the sink holds around each batch write);
   every insert whose hour marks are at or before ``t0`` has therefore committed its rows;
2. finds the days with a dirty hour (``deskpulse.rollup_dirty``: marked after the day's
   last refresh);
3. per day: aggregates that day's ``minutes_store FINAL`` (each event once, whatever was
   written twice) into a scratch table, swaps it in with ``REPLACE PARTITION`` (atomic:
   a query sees the old day or the new day, never both), the same for the day row, then
   records ``t0`` as the day's refresh. Marks written after ``t0`` keep their hours dirty.

A crash anywhere leaves the day dirty (its refresh is recorded last), so the views keep
reading its dirty hours from minutes_store and the next refresh redoes it. Refreshes in
one process are serialised (:data:`_REFRESH`); the design note in docs/clickhouse.md says
why one refresher per store is required and why no replay can double count.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass

from deskpulse.core.sql import SqlStore, literal

logger = logging.getLogger(__name__)

#: held by the sink around each batch write and by a refresh while it takes its watermark
WRITES = threading.Lock()
_REFRESH = threading.Lock()
GRAIN = "tenant, user, host, app, domain, category, productivity"
#: days recomputed per call at most (the rest stay dirty, read exactly, for the next call)
MAX_DAYS = 62


@dataclass(frozen=True)
class Refreshed:
    days: list[dt.date]
    hour_rows: int
    day_rows: int


def dirty_days(store: SqlStore) -> list[dt.date]:
    _, rows = store.query("SELECT DISTINCT toDate(hour) AS d FROM deskpulse.rollup_dirty "
                          "ORDER BY d")
    return [r[0] if isinstance(r[0], dt.date) else dt.date.fromisoformat(str(r[0]))
            for r in rows]


def _watermark(store: SqlStore, lag_s: float = 0.0) -> str:
    """``t0``: now minus 1 ms (minus ``lag_s``: other processes' writes in flight)."""
    lag_ms = 1 + int(lag_s * 1000)
    with WRITES:
        _, rows = store.query(
            f"SELECT toString(now64(3, 'UTC') - toIntervalMillisecond({lag_ms}))")
    return str(rows[0][0])


def _count(store: SqlStore, table: str) -> int:
    return int(store.query(f"SELECT count() FROM deskpulse.{table}")[1][0][0])


def _swap(store: SqlStore, target: str, scratch: str, partition: str) -> int:
    rows = _count(store, scratch)
    if rows:
        store.command(f"ALTER TABLE deskpulse.{target} REPLACE PARTITION ID '{partition}' "
                      f"FROM deskpulse.{scratch}")
    else:  # nothing left that day (erased, expired): the old rows go too
        store.command(f"ALTER TABLE deskpulse.{target} DROP PARTITION ID '{partition}'")
    return rows


def refresh_day(store: SqlStore, day: dt.date, t0: str) -> tuple[int, int]:
    """Recompute ``day`` (UTC) into hours_agg and days_agg; returns (hour rows, day rows)."""
    suffix = uuid.uuid4().hex[:12]
    hours, days = f"rollup_scratch_h_{suffix}", f"rollup_scratch_d_{suffix}"
    start = f"toDateTime('{day.isoformat()} 00:00:00', 'UTC')"
    partition = day.strftime("%Y%m%d")
    try:
        store.command(f"CREATE TABLE deskpulse.{hours} AS deskpulse.hours_agg")
        store.command(f"CREATE TABLE deskpulse.{days} AS deskpulse.days_agg")
        store.command(
            f"INSERT INTO deskpulse.{hours} SELECT {GRAIN}, toStartOfHour(minute) AS hour, "
            "sum(active_ms), sum(idle_ms) FROM deskpulse.minutes_store FINAL "
            f"WHERE minute >= {start} AND minute < {start} + INTERVAL 1 DAY "
            f"GROUP BY {GRAIN}, hour SETTINGS insert_deduplicate = 0")
        store.command(
            f"INSERT INTO deskpulse.{days} SELECT {GRAIN}, toDate(hour) AS day, "
            f"sum(active_ms), sum(idle_ms) FROM deskpulse.{hours} "
            f"GROUP BY {GRAIN}, day SETTINGS insert_deduplicate = 0")
        hour_rows = _swap(store, "hours_agg", hours, partition)
        day_rows = _swap(store, "days_agg", days, partition)
        store.command("INSERT INTO deskpulse.rollup_refreshes (day, refreshed_at) "
                      "SETTINGS insert_deduplicate = 0 "
                      f"VALUES ('{day.isoformat()}', '{t0}')")
    finally:
        store.command(f"DROP TABLE IF EXISTS deskpulse.{hours}")
        store.command(f"DROP TABLE IF EXISTS deskpulse.{days}")
    return hour_rows, day_rows


def refresh(store: SqlStore, days: list[dt.date] | None = None,
            lag_s: float = 0.0) -> Refreshed:
    """Recompute the dirty days (or ``days``); see the module docstring.

    ``lag_s``: when other processes write into the same store (several sinks), a margin
    longer than any of their inserts takes: hours they marked in the last ``lag_s``
    seconds stay dirty, so a write still in flight elsewhere is never taken as included.
    """
    with _REFRESH:
        t0 = _watermark(store, lag_s)
        todo = sorted(set(days)) if days is not None else dirty_days(store)[:MAX_DAYS]
        hour_rows = day_rows = 0
        for day in todo:
            h, d = refresh_day(store, day, t0)
            hour_rows += h
            day_rows += d
        if todo:
            logger.info("rollups refreshed for %d days (%d hour rows, %d day rows)",
                        len(todo), hour_rows, day_rows)
        return Refreshed(todo, hour_rows, day_rows)


def mark_all(store: SqlStore, tenant: str | None = None,
             since: dt.datetime | None = None) -> None:
    """Mark every stored hour (of ``tenant``, from ``since``) dirty: after a change to
    minutes_store that did not come through ``rollups_in`` (relabelling)."""
    where = []
    if tenant is not None:
        where.append(f"tenant = {literal(tenant)}")
    if since is not None:
        where.append(f"minute >= toDateTime('{since:%Y-%m-%d %H:%M:%S}', 'UTC')")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    store.command("INSERT INTO deskpulse.rollup_marks (tenant, hour, written_at) "
                  "SELECT DISTINCT tenant, toStartOfHour(minute), now64(3, 'UTC') "
                  f"FROM deskpulse.minutes_store {clause} SETTINGS insert_deduplicate = 0")

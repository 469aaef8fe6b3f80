"""Relabel stored history with today's rules (``deskpulse recategorize --since DATE``).

The stream worker labels each event with the rules it knows when it processes the
event; a rule change applies to events processed after it, and nothing stored is
rewritten behind the analysts' backs. This is the explicit, documented way to
relabel history:

1. the distinct activities (person, app, domain, title) of the tenant's spans that
   started on or after ``DATE`` (00:00 UTC) are read, and labelled in Python with
   the current rules (the same :class:`~streams.categories.TenantMatcher` as the
   worker);
2. the labels go into a scratch table; every span whose label changed is written
   again with the new one;
3. every minute, hour and day row of those events is written again with its
   event's new label.

Rows written again keep their sorting key, so the ReplacingMergeTree stores keep
the new row and drop the old one: the views show the new labels, and no total
moves. Only events whose spans are still stored can be relabelled (spans are kept
90 days by default, rollups two years: ``deskpulse db retention``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from deskpulse.sql import SqlStore, literal
from streams.categories import TenantMatcher

logger = logging.getLogger(__name__)

CHUNK = 5000
ROLLUP_STORES = (("minutes_store", "minute"), ("hours_store", "hour"), ("days_store", "day"))
_ROLLUP_COLUMNS = "tenant, user, host, app, domain, {time}, event_id, active_ms, idle_ms"
_SPAN_COLUMNS = "event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle"


@dataclass(frozen=True)
class Relabelled:
    activities: int  # distinct (person, app, domain, title) looked at
    rows: dict[str, int]  # table -> rows written again with a new label


def since_sql(since: dt.date) -> str:
    return f"toDateTime64('{since.isoformat()} 00:00:00', 3, 'UTC')"


def spans_sql(scratch: str, tenant: str, since: dt.date, *, count: bool) -> str:
    """Spans on or after ``since`` whose label differs from the scratch table's."""
    head = ("SELECT count()" if count else
            f"INSERT INTO deskpulse.spans_store ({_SPAN_COLUMNS}, category, productivity) "
            f"SELECT {', '.join(f's.{c}' for c in _SPAN_COLUMNS.split(', '))}, "
            "l.category, l.productivity")
    return (f"{head} FROM deskpulse.spans_store AS s FINAL "
            f"INNER JOIN deskpulse.{scratch} AS l ON l.user = s.user AND l.app = s.app "
            "AND l.domain = s.domain AND l.title = s.title "
            f"WHERE s.tenant = {literal(tenant)} AND s.start >= {since_sql(since)} "
            "AND (s.category != l.category OR s.productivity != l.productivity)"
            + ("" if count else " SETTINGS insert_deduplicate = 0"))


def rollups_sql(table: str, time: str, tenant: str, since: dt.date, *, count: bool) -> str:
    """Rows of ``table`` whose event's span now has another label."""
    columns = _ROLLUP_COLUMNS.format(time=time)
    head = ("SELECT count()" if count else
            f"INSERT INTO deskpulse.{table} ({columns}, category, productivity) "
            f"SELECT {', '.join(f'r.{c}' for c in columns.split(', '))}, "
            "e.category, e.productivity")
    events = ("SELECT user, event_id, any(category) AS category, "
              "any(productivity) AS productivity FROM deskpulse.spans_store FINAL "
              f"WHERE tenant = {literal(tenant)} AND start >= {since_sql(since)} "
              "GROUP BY user, event_id")
    return (f"{head} FROM deskpulse.{table} AS r FINAL "
            f"INNER JOIN ({events}) AS e ON e.user = r.user AND e.event_id = r.event_id "
            f"WHERE r.tenant = {literal(tenant)} AND r.{time} >= {since_sql(since)} "
            "AND (r.category != e.category OR r.productivity != e.productivity)"
            + ("" if count else " SETTINGS insert_deduplicate = 0"))


def recategorize(store: SqlStore, matcher: TenantMatcher, tenant: str, since: dt.date,
                 progress: Callable[[str], None] = lambda _: None) -> Relabelled:
    """Relabel the tenant's history since ``since`` with ``matcher``'s rules."""
    _, activities = store.query(
        "SELECT DISTINCT user, app, domain, title FROM deskpulse.spans_store FINAL "
        f"WHERE tenant = {literal(tenant)} AND start >= {since_sql(since)}")
    progress(f"{len(activities):,} distinct activities since {since.isoformat()}")
    scratch = f"recategorize_{uuid.uuid4().hex[:12]}"
    store.command(f"CREATE TABLE deskpulse.{scratch} (user String, app String, domain String, "
                  "title String, category String, productivity String) ENGINE = Memory")
    rows: dict[str, int] = {}
    try:
        for start in range(0, len(activities), CHUNK):
            values = []
            for user, app, domain, title in activities[start:start + CHUNK]:
                label = matcher.label(user, app, domain, title)
                values.append(f"({literal(user)}, {literal(app)}, {literal(domain)}, "
                              f"{literal(title)}, {literal(label.category)}, "
                              f"{literal(label.productivity)})")
            store.command(f"INSERT INTO deskpulse.{scratch} VALUES {', '.join(values)}")
            progress(f"labelled {min(start + CHUNK, len(activities)):,} of "
                     f"{len(activities):,} activities")
        rows["spans_store"] = _count(store, spans_sql(scratch, tenant, since, count=True))
        store.command(spans_sql(scratch, tenant, since, count=False))
        progress(f"spans: {rows['spans_store']:,} relabelled")
        for table, time in ROLLUP_STORES:
            rows[table] = _count(store, rollups_sql(table, time, tenant, since, count=True))
            store.command(rollups_sql(table, time, tenant, since, count=False))
            progress(f"{table}: {rows[table]:,} rows relabelled")
    finally:
        store.command(f"DROP TABLE IF EXISTS deskpulse.{scratch}")
    logger.info("recategorized tenant %s since %s: %s", tenant, since, rows)
    return Relabelled(len(activities), rows)


def _count(store: SqlStore, sql: str) -> int:
    return int(store.query(sql)[1][0][0])

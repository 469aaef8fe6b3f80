"""Relabel stored history with today's rules (``deskpulse recategorize --since DATE``).

The stream worker labels each event with the rules it knows when it processes the
event; a rule change applies to events processed after it, and nothing stored is
rewritten behind the analysts' backs. This is the explicit, documented way to
relabel history:

1. the distinct activities (person, app, domain, title) of the tenant's spans that
   started on or after ``DATE`` (00:00 UTC) are read, and labelled in Python with
   the current rules (the same :class:`~schemas.categories.TenantMatcher` as the
   worker);
2. the labels go into a scratch table; every span whose label changed is written
   again with the new one;
3. every minute row of those events is written again with its event's new label;
4. the hours from ``DATE`` on are marked dirty and their days recomputed into the hour
   and day aggregates (:mod:`sinks.rollup`), which are always derived from the minutes.

Rows written again keep their sorting key, so the ReplacingMergeTree store keeps
the new row and drops the old one: the views show the new labels, and no total
moves. Only events whose spans are still stored can be relabelled (spans are kept
90 days by default, rollups two years: ``deskpulse db retention``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from deskpulse.core.sql import SqlStore, literal
from schemas.categories import TenantMatcher
from sinks import rollup

logger = logging.getLogger(__name__)

CHUNK = 5000
ROLLUP_STORES = (("minutes_store", "minute"),)
_ROLLUP_COLUMNS = "tenant, user, host, app, domain, {time}, event_key, active_ms, idle_ms"
#: spans_store's stored columns (``event_id`` is an ALIAS of the first three, migration 0010)
_SPAN_COLUMNS = ("event_uuid, event_id_form, event_id_text, tenant, user, host, app, exe, "
                 "title, url, domain, start, end, idle")


@dataclass(frozen=True)
class Relabelled:
    activities: int  # distinct (person, app, domain, title) looked at
    rows: dict[str, int]  # table -> rows written again with a new label


def since_sql(since: dt.date) -> str:
    return f"toDateTime64('{since.isoformat()} 00:00:00', 3, 'UTC')"


def _changed(source: str, labels: str) -> str:
    return (f"({source}.category != {labels}.category "
            f"OR {source}.productivity != {labels}.productivity)")


def spans_from(scratch: str, tenant: str, since: dt.date) -> str:
    """Spans on or after ``since`` whose label differs from the scratch table's (``s``, ``l``)."""
    return (f"FROM deskpulse.spans_store AS s FINAL "
            f"INNER JOIN deskpulse.{scratch} AS l ON l.user = s.user AND l.app = s.app "
            "AND l.domain = s.domain AND l.title = s.title "
            f"WHERE s.tenant = {literal(tenant)} AND s.start >= {since_sql(since)} "
            f"AND {_changed('s', 'l')}")


def rollups_from(table: str, time: str, events: str, tenant: str, since: dt.date) -> str:
    """Rows of ``table`` whose event now has another label in ``events`` (``r``, ``e``)."""
    return (f"FROM deskpulse.{table} AS r FINAL "
            f"INNER JOIN deskpulse.{events} AS e ON e.user = r.user AND e.host = r.host "
            "AND e.event_key = r.event_key "
            f"WHERE r.tenant = {literal(tenant)} AND r.{time} >= {since_sql(since)} "
            f"AND {_changed('r', 'e')}")


def rewrite(store: SqlStore, table: str, columns: str, source: str, labels: str,
            rows_from: str) -> int:
    """Write the rows selected by ``rows_from`` again into ``table`` with the labels of
    ``labels``; returns how many. The rows keep their sorting key: the store keeps the
    newer row. (Deduplication off: relabelling back and forth writes identical blocks.)"""
    count = int(store.query(f"SELECT count() {rows_from}")[1][0][0])
    selected = ", ".join(f"{source}.{c}" for c in columns.split(", "))
    store.command(f"INSERT INTO deskpulse.{table} ({columns}, category, productivity) "
                  f"SELECT {selected}, {labels}.category, {labels}.productivity {rows_from} "
                  "SETTINGS insert_deduplicate = 0")
    return count


def refresh_all(store: SqlStore, progress: Callable[[str], None]) -> None:
    """Refresh the aggregates until no day is dirty (bounded: history / MAX_DAYS rounds)."""
    for _ in range(1 + 800 // rollup.MAX_DAYS):
        done = rollup.refresh(store)
        if not done.days:
            return
        progress(f"aggregates: {len(done.days)} days recomputed")


def recategorize(store: SqlStore, matcher: TenantMatcher, tenant: str, since: dt.date,
                 progress: Callable[[str], None] = lambda _: None) -> Relabelled:
    """Relabel the tenant's history since ``since`` with ``matcher``'s rules."""
    _, activities = store.query(
        "SELECT DISTINCT user, app, domain, title FROM deskpulse.spans_store FINAL "
        f"WHERE tenant = {literal(tenant)} AND start >= {since_sql(since)}")
    progress(f"{len(activities):,} distinct activities since {since.isoformat()}")
    scratch = f"recategorize_{uuid.uuid4().hex[:12]}"
    events = f"{scratch}_events"
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
        rows["spans_store"] = rewrite(store, "spans_store", _SPAN_COLUMNS, "s", "l",
                                      spans_from(scratch, tenant, since))
        progress(f"spans: {rows['spans_store']:,} relabelled")
        # every event's label, read once from its (relabelled) spans; an event is (tenant,
        # user, host, event_id): another computer's same event_id is another. minutes_store
        # keys its rows by sipHash64(event_id) (migration 0010)
        store.command(f"CREATE TABLE deskpulse.{events} ENGINE = Memory AS "
                      "SELECT user, host, sipHash64(event_id) AS event_key, "
                      "any(category) AS category, "
                      "any(productivity) AS productivity FROM deskpulse.spans_store FINAL "
                      f"WHERE tenant = {literal(tenant)} AND start >= {since_sql(since)} "
                      "GROUP BY user, host, event_id")
        for table, time in ROLLUP_STORES:
            rows[table] = rewrite(store, table, _ROLLUP_COLUMNS.format(time=time), "r", "e",
                                  rollups_from(table, time, events, tenant, since))
            progress(f"{table}: {rows[table]:,} rows relabelled")
    finally:
        store.command(f"DROP TABLE IF EXISTS deskpulse.{scratch}")
        store.command(f"DROP TABLE IF EXISTS deskpulse.{events}")
    if rows.get("minutes_store"):
        rollup.mark_all(store, tenant, dt.datetime.combine(since, dt.time()))
        refresh_all(store, progress)
    logger.info("recategorized tenant %s since %s: %s", tenant, since, rows)
    return Relabelled(len(activities), rows)

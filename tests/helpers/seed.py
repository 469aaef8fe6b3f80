"""A small known dataset written into chDB through the sink's real ingest path.

Per person ``n`` (alice 0, bob 1, dave 2): a ``code`` span of ``10 * (n + 1)``
minutes starting at :data:`HOUR`, a ``firefox`` span on github.com of
``5 * (n + 1)`` minutes an hour later, and one dead letter whose payload names
them. Code is labelled development / productive, firefox research / neutral.
Teams: red (alice, bob; carol manages it) and blue (dave).
"""

from __future__ import annotations

import orjson

from schemas import topics
from sinks import rollup as rollups
from sinks.batch import Batch
from sinks.writer import ClickHouseWriter, ClientStore

HOUR = 1_795_000_000 - 1_795_000_000 % 3600  # an epoch second on an hour boundary
PEOPLE = {"alice": "red", "bob": "red", "dave": "blue"}
APPS = (("code", "", 10), ("firefox", "github.com", 5))  # app, domain, minutes per (n + 1)
#: the labels the worker's rules gave each app's events
LABELS = {"code": ("development", "productive"), "firefox": ("research", "neutral")}


def minutes(user: str, app: str) -> int:
    n = list(PEOPLE).index(user)
    return next(m for a, _, m in APPS if a == app) * (n + 1)


def seed(chdb, tenant: str, refresh: bool = True) -> None:
    """Write the dataset; ``refresh``: then bring the hour and day aggregates up to date,
    as the sink does between batches."""
    batch = Batch()
    offset = 0
    for n, user in enumerate(PEOPLE):
        for i, (app, domain, per) in enumerate(APPS):
            start = (HOUR + 3600 * i) * 1000
            span = {"event_id": f"{tenant}-{user}-{i}", "tenant": tenant, "user": user,
                    "host": f"{user}-pc", "app": app, "exe": "", "title": "t", "url": "",
                    "domain": domain, "start_ms": start, "end_ms": start + 60_000 * per * (n + 1),
                    "idle": False, "category": LABELS[app][0], "productivity": LABELS[app][1]}
            rollup = {k: span[k] for k in ("event_id", "tenant", "user", "host", "app",
                                           "domain", "idle", "category", "productivity")}
            rollup["minutes"] = [[start // 1000 + 60 * m, 60_000] for m in range(per * (n + 1))]
            batch.add(topics.SPANS, 0, offset, orjson.dumps(span))
            batch.add(topics.ROLLUPS, 0, offset, orjson.dumps(rollup))
            offset += 1
        payload = orjson.dumps({"tenant": "bad tenant!", "user": user, "app": "x"}).decode()
        batch.add(topics.DEADLETTER, 0, offset, orjson.dumps({
            "received_at_ms": HOUR * 1000, "reason": "bad_format", "detail": "", "field": "tenant",
            "payload": payload, "topic": topics.ACTIVITY, "partition": 0, "offset": offset,
            "tenant": "", "user": ""}))
        offset += 1
    writer = ClickHouseWriter(chdb)
    for table, body, _ in batch.writes():
        writer.write(table, body, f"seed-{tenant}-{table}")
    values = ", ".join(f"('{tenant}', '{team}', '{user}', 'member')" for user, team in
                       PEOPLE.items())
    chdb.command("INSERT INTO deskpulse.team_members_store (tenant, team, user, role) VALUES "
                 f"{values}, ('{tenant}', 'red', 'carol', 'manager')")
    if refresh:
        rollups.refresh(ClientStore(chdb))


def add_span(chdb, tenant: str, user: str, app: str, start_s: int, minutes_n: int,
             domain: str = "", event_id: str | None = None, idle: bool = False) -> None:
    """One more span of ``minutes_n`` minutes (and its minute rollups) through the sink."""
    start = start_s * 1000
    span = {"event_id": event_id or f"{tenant}-{user}-{app}-{start_s}", "tenant": tenant,
            "user": user, "host": "pc", "app": app, "exe": "", "title": "", "url": "",
            "domain": domain, "start_ms": start, "end_ms": start + 60_000 * minutes_n,
            "idle": idle}
    rollup = {k: span[k] for k in ("event_id", "tenant", "user", "host", "app", "domain",
                                   "idle")}
    rollup["minutes"] = [[start_s + 60 * m, 60_000] for m in range(minutes_n)]
    writer = ClickHouseWriter(chdb)
    writer.write("deskpulse.spans_in", orjson.dumps(span), f"add-{span['event_id']}")
    writer.write("deskpulse.rollups_in", orjson.dumps(rollup), f"add-r-{span['event_id']}")

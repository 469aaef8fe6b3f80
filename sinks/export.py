"""Subject-access export: everything stored about one person (``deskpulse export``, GDPR Art. 15).

Two halves, both pure of file I/O:

* :func:`export_rows` (an admin operation of the store owner, :mod:`sinks.admin`) reads a
  person's rows from every table :mod:`sinks.erase` erases, found by the very same
  conditions (:func:`sinks.erase.condition`, with its :data:`~sinks.erase.VERIFY_SETTINGS`),
  so an export holds exactly what ``forget`` would remove: spans, minute, hour and day
  rows, dead letters that name them in any JSON spelling, and team memberships. Rows are
  read as stored (no ``FINAL``), so the row counts are those ``forget`` reports. Each
  request is audited in ``deskpulse.subject_access_audit`` like an erasure: request id,
  tenant, time, rows per table, never whom.
* :func:`policy_rows` picks from the policy topics (a :class:`schemas.policy.PolicySet`)
  what applies to the person: their do-not-track periods (and those of the computers
  their rows name), their own schedule and the tenant default, the category rules of the
  teams they are in (``team_members`` and the rule book's team lists) and the policy
  topic's team lists that name them.

:func:`manifest` sums it up (row counts, time range, generated at). :func:`render` writes
a table as JSON (every value exact) or CSV, where a text cell a spreadsheet would run as a
formula (starting with ``= + - @``, a tab or a carriage return) gets a leading single
quote, OWASP's defence against CSV injection; a CSV export's manifest says so. Erasure records
(``deskpulse.erasure_audit``) never name whom they erased, so none can be attributed to
a person and none is exported. After ``forget`` the stored tables of an export are
empty; the policy records stay on their topics (``forget`` does not touch them: a
do-not-track entry has to outlive the data) until an admin clears them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from deskpulse.core.output import defuse_formula
from deskpulse.core.sql import SqlStore, literal
from schemas.policy import fmt_interval
from sinks.erase import TABLES, VERIFY_SETTINGS, check_subject, condition

logger = logging.getLogger(__name__)

#: the order each table's rows are written in
_ORDER = {"spans_store": "start, event_id", "minutes_store": "minute, event_key",
          "hours_agg": "hour, host, app, domain, category, productivity",
          "days_agg": "day, host, app, domain, category, productivity",
          "deadletter_store": "received_at, topic, partition, offset",
          "team_members_store": "team, updated_at"}
#: what is exported of a table when not ``*``: spans_store's event_id as it came (its stored
#: form is a UUID and a form, migration 0010), first as the table had it
_COLUMNS = {"spans_store": "event_id, * EXCEPT (event_uuid, event_id_form, event_id_text)"}
#: columns that hold a time, for the manifest's time range
TIME_COLUMNS = ("start", "end", "minute", "hour", "day", "received_at")
#: the policy "tables" of an export (besides :data:`sinks.erase.TABLES`)
POLICY_TABLES = ("do_not_track", "schedules", "category_rules", "policy_teams")

Table = dict[str, list[Any]]  # {"columns": [...], "rows": [[...], ...]}


def plain(value: Any) -> Any:
    """A value as JSON writes it: times as ISO 8601 UTC, enums and UUIDs as text."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def export_rows(store: SqlStore, tenant: str, user: str) -> dict[str, Any]:
    """Every stored row of ``user`` in ``tenant``, per table; audited (see module doc)."""
    check_subject(tenant, user, "export")
    tables: dict[str, Table] = {}
    for table in TABLES:
        columns, rows = store.query(
            f"SELECT {_COLUMNS.get(table, '*')} FROM deskpulse.{table} "
            f"WHERE {condition(table, tenant, user)} ORDER BY {_ORDER[table]} "
            f"SETTINGS {VERIFY_SETTINGS}")
        tables[table] = {"columns": list(columns), "rows": [plain(list(r)) for r in rows]}
    request_id = str(uuid.uuid4())
    counts = ", ".join(f"{literal(t)}, {len(v['rows'])}" for t, v in tables.items())
    store.command("INSERT INTO deskpulse.subject_access_audit (request_id, tenant, "
                  f"rows_exported) VALUES ({literal(request_id)}, {literal(tenant)}, "
                  f"map({counts}))")
    logger.info("subject-access export of %d rows in tenant %s",
                sum(len(v["rows"]) for v in tables.values()), tenant)
    return {"request_id": request_id, "tables": tables}


def _column(table: Table, name: str) -> list[Any]:
    if name not in table["columns"]:
        return []
    i = table["columns"].index(name)
    return [row[i] for row in table["rows"]]


def policy_rows(policies: Any, tenant: str, user: str,
                tables: Mapping[str, Table]) -> dict[str, Table]:
    """What of the policy topics applies to ``user`` (see the module doc), as tables."""
    check_subject(tenant, user, "export")
    hosts = set()
    for name in ("spans_store", "minutes_store", "hours_agg", "days_agg"):
        hosts |= {h for h in _column(tables.get(name, {"columns": [], "rows": []}), "host") if h}
    dnt_rows = []
    for entry in sorted(policies.dnt.values(), key=lambda e: e.key):
        if entry.tenant != tenant or (entry.kind, entry.name) not in (
                {("user", user)} | {("host", h) for h in hosts}):
            continue
        for start, end in entry.periods:
            dnt_rows.append([entry.kind, entry.name, plain(_ms(start)),
                             None if end is None else plain(_ms(end)), entry.reason])
    schedule_rows = []
    for scope, key in (("personal", f"{tenant}/user:{user}"), ("tenant default",
                                                               f"{tenant}/default")):
        sched = policies.schedules.get(key)
        if sched is not None:
            schedule_rows.append([scope, sched.tz,
                                  "; ".join(fmt_interval(iv) for iv in sched.intervals),
                                  ", ".join(sorted(d.isoformat() for d in sched.off))])
    book = policies.categories
    prefix = f"{tenant}/team/"
    listed = sorted(key[len(prefix):] for key, members in book.teams.items()
                    if key.startswith(prefix) and user in members)
    stored = _column(tables.get("team_members_store", {"columns": [], "rows": []}), "team")
    teams = set(listed) | set(stored)
    rule_rows = [[r.team, r.kind, r.pattern, r.category, r.productivity,
                  plain(_ms(r.created_ms)) if r.created_ms else None]
                 for r in sorted(book.rules.values(), key=lambda r: r.key)
                 if r.tenant == tenant and r.team and r.team in teams]
    return {
        "do_not_track": {"columns": ["kind", "name", "listed_from", "listed_until", "reason"],
                         "rows": dnt_rows},
        "schedules": {"columns": ["scope", "time_zone", "hours", "days_off"],
                      "rows": schedule_rows},
        "category_rules": {"columns": ["team", "kind", "pattern", "category", "productivity",
                                       "created_at"], "rows": rule_rows},
        "policy_teams": {"columns": ["team"], "rows": [[t] for t in listed]},
    }


def _ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def manifest(tenant: str, user: str, request_id: str, tables: Mapping[str, Table],
             generated_at: dt.datetime, files: Mapping[str, str],
             fmt: str = "json") -> dict[str, Any]:
    """The export's table of contents: rows per table, time range, when, which files (and,
    for ``fmt`` csv, how cells were escaped: :data:`CSV_NOTE`)."""
    times: list[str] = []
    for name in TABLES:
        table = tables.get(name)
        if table is not None:
            for column in TIME_COLUMNS:
                times += [str(v) for v in _column(table, column) if v]
    return {
        "subject": {"tenant": tenant, "user": user},
        "request_id": request_id,
        "generated_at": plain(generated_at),
        "time_range": {"first": min(times) if times else None,
                       "last": max(times) if times else None},
        "rows": {name: len(table["rows"]) for name, table in tables.items()},
        "files": dict(files),
        "notes": [
            "rows are as stored: a row the store keeps twice until it merges is listed twice",
            "dead letters are those 'deskpulse forget' finds for this login in this tenant",
            "erasure records name nobody (request id, tenant, time, counts), so none is "
            "attributed to a person",
            "do-not-track periods, schedules and category rules are policy records; "
            "'deskpulse forget' does not remove them (dnt remove / schedule clear do)",
            "events still in Kafka topics (not yet stored, or kept until the topics' "
            "retention) and the collector's own spool on the person's computer are not "
            "in the store and not in this export",
        ] + ([CSV_NOTE] if fmt == "csv" else []),
    }


def empty(tables: Mapping[str, Table], names: Iterable[str] = TABLES) -> bool:
    """No stored row of the person in any of ``names``."""
    return not any(tables[n]["rows"] for n in names)


CSV_NOTE = ("CSV files: a text cell that starts with = + - @, a tab or a carriage return "
            "is written with a single quote (') in front, so no spreadsheet runs it as a "
            "formula (OWASP CSV injection); the JSON files hold every value exactly")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: a text a spreadsheet would run as a formula gets a leading
    single quote (OWASP's advice); numbers, and every other text, as they are."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return defuse_formula(value)


def render(table: Table, fmt: str) -> str:
    """One table as a file: JSON (a list of objects, one per row, every value exact) or
    CSV (a header line; cells that could run as formulas escaped by :func:`csv_cell`)."""
    import csv
    import io
    if fmt == "json":
        return json.dumps([dict(zip(table["columns"], row, strict=True))
                           for row in table["rows"]], ensure_ascii=False, indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in table["columns"]])
    for row in table["rows"]:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()

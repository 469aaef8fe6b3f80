"""Erasure of one person's rows from every table (``deskpulse forget``).

Each personal table gets ``ALTER TABLE ... DELETE`` with ``mutations_sync = 2``
(the statement returns once the rows are gone on every replica), then the
tables are counted again: the command fails loudly rather than report an
erasure that did not happen. Dead letters are matched on their subject columns
and also on the raw payload (a rejected event may carry the person's login
while its subject columns are empty). The audit entry records the request id,
the tenant, the time and the number of rows removed per table, never whom.
Views derive from these tables and need nothing.
"""

from __future__ import annotations

import logging
import re

from deskpulse.errors import QueryError
from deskpulse.sql import SqlStore, literal

logger = logging.getLogger(__name__)

#: table -> how a person's rows are found in it ({person} is the subject filter)
TABLES = {
    "spans_store": "{person}",
    "minutes_store": "{person}",
    "hours_store": "{person}",
    "days_store": "{person}",
    "deadletter_store": "{person} OR ((tenant = {tenant} OR tenant = '') "
                        "AND match(payload, {payload}))",
    "team_members_store": "{person}",
}


def condition(table: str, tenant: str, user: str) -> str:
    person = f"(tenant = {literal(tenant)} AND user = {literal(user)})"
    payload = r'"user"\s*:\s*"' + re.escape(user) + '"'
    return TABLES[table].format(person=person, tenant=literal(tenant), payload=literal(payload))


def count(store: SqlStore, table: str, tenant: str, user: str) -> int:
    _, rows = store.query(f"SELECT count() FROM deskpulse.{table} "
                          f"WHERE {condition(table, tenant, user)}")
    return int(rows[0][0])


def forget(store: SqlStore, tenant: str, user: str) -> dict[str, int]:
    """Delete every row of ``user`` in ``tenant``; returns rows removed per table."""
    removed = {}
    for table in TABLES:
        found = count(store, table, tenant, user)
        if found:
            store.command(f"ALTER TABLE deskpulse.{table} DELETE WHERE "
                          f"{condition(table, tenant, user)} SETTINGS mutations_sync = 2")
        removed[table] = found
    left = {table: n for table in TABLES if (n := count(store, table, tenant, user))}
    if left:
        raise QueryError(f"erasure incomplete, rows remain in {left}; run the command again",
                         hint="rows written while it ran (is the person on the do-not-track "
                              "list?) are removed by a second run")
    entries = ", ".join(f"{literal(t)}, {n}" for t, n in removed.items())
    store.command("INSERT INTO deskpulse.erasure_audit (request_id, tenant, rows_removed) "
                  f"VALUES (generateUUIDv4(), {literal(tenant)}, map({entries}))")
    logger.info("erased %d rows in tenant %s", sum(removed.values()), tenant)
    return removed

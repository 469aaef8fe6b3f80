"""Erasure of one person's rows from every table (``deskpulse forget``).

Each personal table gets ``ALTER TABLE ... DELETE`` with ``mutations_sync = 2``
(the statement returns once the rows are gone on every replica), then the
tables are counted again: the command fails loudly rather than report an
erasure that did not happen. The audit entry records the request id, the
tenant, the time and the number of rows removed per table, never whom. Views
derive from these tables and need nothing.

The login is checked first (:func:`check_subject`): an empty, blank or
over-long login, or a tenant outside the contract, is refused, because it names
nobody and would match rows of others (``user = ''`` is every dead letter whose
payload named no user).

Counting and verifying do not trust the session: a ``SET`` sent earlier on the
same connection (row filters such as ``additional_table_filters``, a result
filter, read limits with ``overflow_mode = 'break'``, an ``offset``, the query
cache) would make a count read fewer rows than exist. Every count and delete
carries :data:`VERIFY_SETTINGS`, which put each of those back to "every row".

Dead letters are found three ways (:func:`deadletter_condition`):

* by their subject columns (``tenant``, ``user``), filled by the worker and the
  sink from the payload when it parsed;
* by a complete ``"user": "..."`` field in the raw payload, in any JSON
  spelling: each value is decoded by ClickHouse's JSON parser (``\\"``, ``\\\\``,
  ``\\/``, ``\\u00e9`` in either case, surrogate pairs for emoji) and compared
  with the login, or compared as it stands with every plausible encoding
  (:func:`encodings`) for values a JSON parser refuses (raw control characters);
* by an unterminated ``"user": "...`` at the very end of a payload cut at 4 KiB,
  when what is left is a prefix of the login or of one of its encodings (the
  cut may fall inside an escape such as ``\\u00``).

Only the ``user`` field is matched (the key may be spelled with escapes too, with
JSON white space around the colon), never the login as a bare substring: ``ann``
must not erase what ``anna`` or ``joanne`` sent. A login that appears only in
free text (a window title) is not erased by this, as in the spans. The price of
the prefix rule is that a payload cut inside its user field after ``ann`` is
erased with either ``ann`` or ``anna``: nobody can tell whose it was.

A payload matched this way is erased when its tenant column is this tenant, or
is no valid tenant (empty, or refused by the contract) unless every tenant field
in the payload names another valid tenant. So an unreadable payload of the same
login in another tenant survives, and one that cannot be attributed is erased.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import fields

from deskpulse.core.errors import ConfigError, QueryError
from deskpulse.core.sql import SqlStore, literal
from schemas.activity import TENANT_PATTERN, ActivityEvent

logger = logging.getLogger(__name__)

#: the longest login the contract lets into any table
MAX_LOGIN = next(f.metadata["max_len"] for f in fields(ActivityEvent) if f.name == "user")

#: per-statement settings that undo what an earlier ``SET`` on the session could do to a
#: count: no row or result filter, no read or result limit that stops early and returns
#: what it has, no offset, no cached answer, every shard
VERIFY_SETTINGS = ", ".join(f"{name} = {value}" for name, value in {
    "additional_table_filters": "{}",
    "additional_result_filter": "''",
    "max_rows_to_read": 0, "max_bytes_to_read": 0, "read_overflow_mode": "'throw'",
    "max_rows_to_read_leaf": 0, "max_bytes_to_read_leaf": 0, "read_overflow_mode_leaf": "'throw'",
    "max_result_rows": 0, "max_result_bytes": 0, "result_overflow_mode": "'throw'",
    "max_execution_time": 0, "timeout_overflow_mode": "'throw'",
    "limit": 0, "offset": 0, "final": 0,
    "use_query_cache": 0,
    "empty_result_for_aggregation_by_empty_set": 0,
    "skip_unavailable_shards": 0,
}.items())

#: tables and how a person's rows are found in them (``deadletter`` is special)
TABLES = ("spans_store", "minutes_store", "hours_agg", "days_agg", "deadletter_store",
          "team_members_store")

# The key of a JSON field, each letter optionally written as a \u escape, then the colon.
_KEY = {name: '"' + "".join(f"(?:{c}|\\\\u{ord(c):04x})" for c in name) + r'"\s*:\s*"'
        for name in ("user", "tenant")}
#: a complete string value (group 1: its text as written, escapes included)
_VALUE = r'((?:[^"\\]|\\.)*)"'
#: an unterminated value running to the end of the payload (cut at the 4 KiB limit; before
#: payload_text dropped a character the cut split, it ended with U+FFFD instead)
_TAIL = r'((?:[^"\\]|\\.)*?\\?)(?:\x{FFFD})?$'


def check_subject(tenant: str, user: str, action: str = "erase") -> None:
    """Refuse a request that names nobody (or everybody): ConfigError."""
    if not isinstance(user, str) or not user.strip():
        raise ConfigError(f"refusing to {action} an empty or blank login: it names nobody and "
                          "would match other people's rows; give the exact login with --user")
    if len(user) > MAX_LOGIN:
        raise ConfigError(f"the login is {len(user)} characters; logins have at most "
                          f"{MAX_LOGIN}, so nothing of this one can be stored")
    if not isinstance(tenant, str) or not re.match(TENANT_PATTERN, tenant):
        raise ConfigError(f"tenant {tenant!r} is not a valid tenant "
                          "(1-64 characters of A-Za-z0-9._-)")


def encodings(login: str) -> list[str]:
    """The ways a JSON writer may spell ``login`` between the quotes of a string.

    As it stands; with only ``"`` and ``\\`` escaped (a hand-made writer); as orjson and
    ``json.dumps(ensure_ascii=False)`` write it (control characters escaped, the rest
    raw); as ``json.dumps`` writes it (every non-ASCII character ``\\uXXXX``, astral ones
    as surrogate pairs); each also with upper-case hex digits and with ``/`` as ``\\/``.
    """
    forms = {login,
             login.replace("\\", "\\\\").replace('"', '\\"'),
             json.dumps(login, ensure_ascii=False)[1:-1],
             json.dumps(login)[1:-1]}
    forms |= {re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), f)
              for f in forms}
    forms |= {f.replace("/", "\\/") for f in forms}
    return sorted(forms)


def _decoded(sql: str) -> str:
    """The JSON string body ``sql`` decoded by ClickHouse ('' when it is not valid JSON)."""
    return f"JSONExtractString(concat('[\"', {sql}, '\"]'), 1)"


def deadletter_condition(tenant: str, user: str) -> str:
    """Which dead letters are ``user``'s in ``tenant`` (see the module docstring)."""
    t, u = literal(tenant), literal(user)
    forms = "[" + ", ".join(literal(f) for f in encodings(user)) + "]"
    values = f"extractAll(payload, {literal('(?s)' + _KEY['user'] + _VALUE)})"
    tail = f"extract(payload, {literal('(?s)' + _KEY['user'] + _TAIL)})"
    named = (f"arrayExists(v -> has({forms}, v) OR {_decoded('v')} = {u}, {values})"
             f" OR (notEmpty({tail}) AND (arrayExists(f -> startsWith(f, {tail}), {forms})"
             f" OR (notEmpty({_decoded(tail)}) AND startsWith({u}, {_decoded(tail)}))))")
    tenants = f"extractAll(payload, {literal('(?s)' + _KEY['tenant'] + _VALUE)})"
    valid = literal(TENANT_PATTERN)
    elsewhere = (f"notEmpty({tenants}) AND arrayAll(v -> match({_decoded('v')}, {valid}) "
                 f"AND {_decoded('v')} != {t}, {tenants})")
    ours = f"tenant = {t} OR (NOT match(tenant, {valid}) AND NOT ({elsewhere}))"
    return f"({ours}) AND (user = {u} OR {named})"


def condition(table: str, tenant: str, user: str) -> str:
    if table == "deadletter_store":
        return deadletter_condition(tenant, user)
    if table not in TABLES:
        raise ValueError(f"not a personal table: {table}")
    return f"tenant = {literal(tenant)} AND user = {literal(user)}"


def count(store: SqlStore, table: str, tenant: str, user: str) -> int:
    """Rows of ``user`` in ``table``, whatever the session's settings say."""
    _, rows = store.query(f"SELECT count() FROM deskpulse.{table} "
                          f"WHERE {condition(table, tenant, user)} SETTINGS {VERIFY_SETTINGS}")
    if len(rows) != 1 or not rows[0]:
        raise QueryError(f"counting {table} returned {len(rows)} rows instead of one; "
                         "erasure not verified")
    return int(rows[0][0])


def forget(store: SqlStore, tenant: str, user: str) -> dict[str, int]:
    """Delete every row of ``user`` in ``tenant``; returns rows removed per table."""
    check_subject(tenant, user)
    removed = {}
    for table in TABLES:
        found = count(store, table, tenant, user)
        if found:
            store.command(f"ALTER TABLE deskpulse.{table} DELETE WHERE "
                          f"{condition(table, tenant, user)} "
                          f"SETTINGS mutations_sync = 2, {VERIFY_SETTINGS}")
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

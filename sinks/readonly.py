"""The read-only query surface of the store owner (``deskpulse query``, ``report``).

Two checks, each enough alone for most attacks, together for all that are known:

1. **The statement** (:func:`check_statement`, pure): one statement, starting with
   SELECT, WITH, SHOW, DESCRIBE/DESC, EXPLAIN or EXISTS; no ``INTO OUTFILE``; no call of
   a function that reaches files, URLs, other servers, programs or the process itself
   (``file``, ``url``, ``s3``, ``remote``, ``mysql``, ``executable``, chDB's ``python``,
   ...), quoted names included; no system table that keeps other queries' text
   (``system.mutations`` keeps an erasure's ``DELETE WHERE user = '...'``). The lexer
   knows ClickHouse's strings, quoted names and comments (nested ``/* */`` too) and
   refuses what it cannot be sure about (an unterminated string or comment, ``$$``).
2. **The engine** (:func:`profile`): every query runs with ``readonly = 1`` and the
   result bound as settings *of that query*, never as a session ``SET``. In readonly
   mode ClickHouse refuses writes, DDL, ``SYSTEM``, table functions and any change of a
   setting: a ``SETTINGS readonly = 0`` clause is refused, and in a subquery ignored
   (checked on chDB). chDB lets ``INTO OUTFILE``, ``KILL`` and the scalar ``file()``
   through in readonly mode: the statement check stops those.

A result larger than the bound fails with :class:`~deskpulse.core.errors.ResultTooLarge`
("add LIMIT or aggregate") instead of costing gigabytes in the sink and the CLI.

Results are returned as JSON whatever their bytes: strings are read as bytes and
invalid UTF-8 is replaced (U+FFFD), integers beyond 64 bits become strings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from deskpulse.core.errors import QueryError, QueryRefused, ResultTooLarge

#: statements the query path runs (the first keyword)
ALLOWED_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS")

#: statements ClickHouse knows that are not reads (refused as such; other words are typos)
WRITES = frozenset({
    "INSERT", "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "EXCHANGE", "ATTACH",
    "DETACH", "UNDROP", "OPTIMIZE", "SYSTEM", "SET", "KILL", "GRANT", "REVOKE", "USE",
    "DELETE", "UPDATE", "BACKUP", "RESTORE", "MOVE", "REPLACE", "UPSERT", "CHECK", "WATCH",
    "BEGIN", "COMMIT", "ROLLBACK", "START", "EXECUTE", "PARALLEL",
})
ALLOWED = frozenset(ALLOWED_STATEMENTS)

#: functions (scalar or table) that reach outside the store: files, URLs, object stores,
#: other servers and databases, programs, the sink process's Python objects
DENIED_FUNCTIONS = frozenset({
    "file", "url", "gcs", "oss", "cosn", "cluster", "executable", "input", "python",
    "dictionary", "hive", "merge",
})
#: system tables that keep the text of other queries and mutations (an erasure's
#: ``DELETE WHERE user = '...'`` names the person it erased)
DENIED_SYSTEM_TABLES = frozenset({
    "mutations", "processes", "query_log", "query_thread_log", "query_views_log",
    "text_log", "session_log", "processors_profile_log", "asynchronous_insert_log",
    "part_log", "opentelemetry_span_log", "zookeeper_log", "backup_log", "trace_log",
    "asynchronous_loader", "dictionaries",
})
#: name prefixes of such functions (``s3Cluster``, ``icebergS3``, ``remoteSecure``, ...)
DENIED_PREFIXES = (
    "s3", "iceberg", "deltalake", "hudi", "paimon", "azureblob", "hdfs", "remote",
    "clusterallreplicas", "filecluster", "urlcluster", "mysql", "postgresql", "mongodb",
    "redis", "sqlite", "odbc", "jdbc", "arrowflight", "ytsaurus", "executablepool",
)


@dataclass(frozen=True)
class QueryLimits:
    """The bound of one query on the read-only path (0: no bound)."""

    max_result_rows: int = 100_000
    max_result_bytes: int = 128 * 1024 * 1024
    max_execution_s: int = 600

    def __post_init__(self) -> None:
        for name in ("max_result_rows", "max_result_bytes", "max_execution_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or positive")


def profile(limits: QueryLimits) -> dict[str, Any]:
    """The settings sent with every read-only query."""
    settings: dict[str, Any] = {"readonly": 1, "result_overflow_mode": "throw"}
    if limits.max_result_rows:
        settings["max_result_rows"] = limits.max_result_rows
    if limits.max_result_bytes:
        settings["max_result_bytes"] = limits.max_result_bytes
    if limits.max_execution_s:
        settings["max_execution_time"] = limits.max_execution_s
    return settings


# ---- the statement check ---------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # "word", "quoted" (a quoted name), "string", "number", "punct"
    text: str  # for "quoted": the name without its quotes


_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")


def tokens(sql: str) -> Iterator[Token]:
    """ClickHouse tokens of ``sql``, comments and white space left out.

    Raises :class:`QueryRefused` where the lexer could read the text differently
    from ClickHouse (so that nothing can hide from :func:`check_statement`).
    """
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if m := _SPACE.match(sql, i):
            i = m.end()
        elif sql.startswith("--", i) or c == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c in "'\"`":
            end = _quoted_end(sql, i)
            body = sql[i + 1:end - 1]
            yield Token("string" if c == "'" else "quoted", _unescape(body, c))
            i = end
        elif c == "$":
            raise QueryRefused("'$' (heredoc strings) is not accepted on the query path; "
                               "use '...' strings")
        elif m := _WORD.match(sql, i):
            yield Token("word", m.group())
            i = m.end()
        elif m := _NUMBER.match(sql, i):
            yield Token("number", m.group())
            i = m.end()
        else:
            yield Token("punct", c)
            i += 1


def _skip_block_comment(sql: str, i: int) -> int:
    depth, j = 0, i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth += 1
            j += 2
        elif sql.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise QueryRefused("the SQL has a /* comment that is not closed")


def _quoted_end(sql: str, i: int) -> int:
    """Index after the closing quote of the string or name opened at ``i``."""
    quote, j = sql[i], i + 1
    while j < len(sql):
        ch = sql[j]
        if ch == "\\":
            j += 2
        elif ch == quote:
            if sql.startswith(quote * 2, j):  # a doubled quote stands for one
                j += 2
            else:
                return j + 1
        else:
            j += 1
    kind = "string" if quote == "'" else "quoted name"
    raise QueryRefused(f"the SQL has a {kind} ({quote}...) that is not closed")


def _unescape(body: str, quote: str) -> str:
    return re.sub(r"\\(.)", r"\1", body.replace(quote * 2, quote), flags=re.S)


def check_statement(sql: str) -> str:
    """The statement to run, or :class:`QueryRefused` saying why it is not run here.

    A trailing ``;`` is removed (the engine settings follow the statement).
    """
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("the SQL is empty")
    toks = list(tokens(sql))
    while toks and toks[-1] == Token("punct", ";"):
        toks.pop()
    if not toks:
        raise QueryRefused("the SQL is empty")
    if Token("punct", ";") in toks:
        raise QueryRefused("one statement per query: the SQL has a ';' between statements")
    first = next((t for t in toks if t != Token("punct", "(")), toks[0])
    if first.kind != "word" or first.text.upper() not in ALLOWED | WRITES:
        raise QueryError(f"{first.text[:40]!r} does not start a statement the query path "
                         f"runs (expected one of {', '.join(ALLOWED_STATEMENTS)})")
    if first.text.upper() in WRITES:
        raise QueryRefused(
            f"the query path is read-only: {first.text[:40]!r} statements are not run here "
            f"(allowed: {', '.join(ALLOWED_STATEMENTS)}); erasure, migrations, retention, "
            "relabelling and teams have their own commands")
    for prev, tok in zip(toks, toks[1:], strict=False):
        if prev.kind == "word" and prev.text.upper() == "INTO" and tok.kind == "word" \
                and tok.text.upper() == "OUTFILE":
            raise QueryRefused("INTO OUTFILE is not run here: the query path writes no files "
                               "(use --format csv and redirect the output)")
    for db, dot, table in zip(toks, toks[1:], toks[2:], strict=False):
        if db.kind in ("word", "quoted") and db.text.lower() == "system" \
                and dot == Token("punct", ".") and table.kind in ("word", "quoted") \
                and table.text.lower() in DENIED_SYSTEM_TABLES:
            raise QueryRefused(f"system.{table.text} is not read here: it keeps the text of "
                               "other people's queries and erasures")
    words = [t.text.upper() for t in toks if t.kind == "word"]
    if words[:2] == ["SHOW", "PROCESSLIST"]:
        raise QueryRefused("SHOW PROCESSLIST is not run here: it shows other people's queries")
    for tok, nxt in zip(toks, toks[1:], strict=False):
        if tok.kind in ("word", "quoted") and nxt == Token("punct", "(") \
                and _denied(tok.text):
            raise QueryRefused(f"{tok.text}() is not run here: the query path reads the "
                               "deskpulse store only (no files, URLs, other servers or "
                               "programs)")
    return _strip_trailing_semicolons(sql)


def _denied(name: str) -> bool:
    low = name.lower()
    return low in DENIED_FUNCTIONS or low.startswith(DENIED_PREFIXES)


def _strip_trailing_semicolons(sql: str) -> str:
    """``sql`` cut at its first ';' of code: :func:`check_statement` proved that only
    semicolons, comments and white space follow it."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i) or c == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c in "'\"`":
            i = _quoted_end(sql, i)
        elif c == ";":
            return sql[:i]
        else:
            i += 1
    return sql


# ---- errors and results -----------------------------------------------------------

def engine_error(message: str, limits: QueryLimits) -> QueryError:
    """The project's error for an engine message on the read-only path."""
    if "TOO_MANY_ROWS_OR_BYTES" in message or "Limit for result exceeded" in message:
        if "max bytes" in message:
            return ResultTooLarge(f"result is larger than {limits.max_result_bytes:,} bytes; "
                                  "add LIMIT or aggregate")
        return ResultTooLarge(f"result has more than {limits.max_result_rows:,} rows; "
                              "add LIMIT or aggregate")
    if "(READONLY)" in message or "in readonly mode" in message:
        return QueryRefused(f"the query path is read-only: {message}")
    return QueryError(message)


def json_result(columns: list[str], rows: list[list[Any]]) -> bytes:
    """``{"columns": [...], "rows": [...]}`` as JSON, for any values ClickHouse returns."""
    try:
        return orjson.dumps({"columns": columns, "rows": rows}, default=_default)
    except (TypeError, orjson.JSONEncodeError):
        # a bytes map key, an integer beyond 64 bits...: the slow path, value by value
        return orjson.dumps({"columns": [_clean(c) for c in columns],
                             "rows": [[_clean(v) for v in row] for row in rows]})


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {_key(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _key(value: Any) -> str:
    cleaned = _clean(value)
    return cleaned if isinstance(cleaned, str) else orjson.dumps(cleaned).decode()

"""Writes rows into ClickHouse (a server over HTTP, or chDB in process)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from deskpulse.core.errors import QueryError, StoreUnavailable
from sinks.readonly import QueryLimits, check_statement, engine_error, profile

logger = logging.getLogger(__name__)


class BodyWriter(Protocol):
    def write(self, table: str, body: bytes, dedup_token: str) -> None: ...


def connect(dsn: str) -> Any:
    """A clickhouse-connect client for ``dsn`` (``chdb:///path`` or ``http(s)://...``)."""
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except ClickHouseError as exc:
        raise StoreUnavailable(f"cannot open ClickHouse at {redact_dsn(dsn)}: {exc}") from exc


def redact_dsn(dsn: str) -> str:
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return dsn


#: insert settings: the token also deduplicates the views' blocks into the storage tables.
#: ``optimize_on_insert`` off: the engine does not collapse the rows of one insert block as a
#: merge would (about a third of the insert's time, issue 21); a record twice in one batch
#: stays twice until the next merge, as the same record in two batches always has, and the
#: analyst views read the ReplacingMergeTree stores with FINAL, so they are exact either way
INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1,
                   "input_format_skip_unknown_fields": 1,
                   "optimize_on_insert": 0}


class ClickHouseWriter:
    """:class:`BodyWriter` over a clickhouse-connect client: JSONEachRow inserts."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def write(self, table: str, body: bytes, dedup_token: str) -> None:
        try:
            self._client.raw_insert(table, None, insert_block=body, fmt="JSONEachRow",
                                    settings={**INSERT_SETTINGS,
                                              "insert_deduplication_token": dedup_token})
        except (ClickHouseError, OSError) as exc:  # OSError: chDB's temporary insert file
            raise StoreUnavailable(f"writing {len(body)} bytes to {table} failed: "
                                   f"{_first_line(exc)}") from exc


def run_query(client: Any, sql: str) -> tuple[list[str], list[list[Any]]]:
    """Execute ``sql``; returns (column names, rows)."""
    try:
        result = client.query(sql)
    except ClickHouseError as exc:
        raise QueryError(_first_line(exc)) from exc
    return list(result.column_names), [list(r) for r in result.result_rows]


#: strings come back as bytes: the JSON encoder replaces invalid UTF-8 (clickhouse-connect
#: would silently return such a value as its hex digits)
RAW_STRINGS = {"String": "bytes", "FixedString": "bytes"}


class ReadOnlyQueries:
    """The read-only query path (:mod:`sinks.readonly`) over a clickhouse-connect client.

    ``dsn`` gets a handle of its own: nothing else shares a session with SQL that arrives
    from other processes (the admin operations and the writer have theirs). After a
    failed query the handle is replaced: chDB keeps the rest of a result that failed
    midway (a bound hit after the first block was sent) and hands it to the next query
    on the same handle, which then fails or reads someone else's rows.
    """

    def __init__(self, dsn: str, limits: QueryLimits | None = None) -> None:
        self._dsn = dsn
        self.limits = limits or QueryLimits()
        self._settings = profile(self.limits)
        self._lock = threading.Lock()
        self._client = connect(dsn)

    def __call__(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        statement = check_statement(sql)
        with self._lock:
            try:
                result = self._client.query(statement, settings=self._settings,
                                            query_formats=RAW_STRINGS)
                return list(result.column_names), [list(r) for r in result.result_rows]
            except ClickHouseError as exc:
                self._replace_handle()
                raise engine_error(_first_line(exc), self.limits) from exc
            except BaseException:
                self._replace_handle()
                raise

    def _replace_handle(self) -> None:
        try:
            self._client.close()
        except Exception as exc:  # noqa: BLE001 - a broken handle may fail to close
            logger.debug("closing a failed query handle: %s", exc)
        self._client = connect(self._dsn)


class ClientStore:
    """SQL on a clickhouse-connect client: ``query`` returns rows, ``command`` runs DDL/DML."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def query(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        return run_query(self.client, sql)

    def command(self, sql: str) -> None:
        try:
            self.client.command(sql)
        except ClickHouseError as exc:
            raise QueryError(_first_line(exc)) from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)

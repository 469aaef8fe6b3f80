"""Where SQL goes: a configured ClickHouse, or the running embedded stack's store owner."""

from __future__ import annotations

import orjson

from deskpulse.errors import QueryError, StackError, StoreUnavailable
from deskpulse.procs import http_json
from deskpulse.settings import Settings
from deskpulse.sql import Result, SqlStore
from deskpulse.stack import StackInfo

Store = SqlStore


class StackStore:
    """SQL through the embedded stack's sink, which owns the chDB directory."""

    def __init__(self, info: StackInfo, timeout: float = 120.0) -> None:
        self._info = info
        self._timeout = timeout

    def query(self, sql: str) -> Result:
        try:
            status, body = http_json(f"{self._info.store_url}/query", timeout=self._timeout,
                                     body=orjson.dumps({"sql": sql}), token=self._info.token)
        except OSError as exc:
            raise StoreUnavailable(f"the stack's store at {self._info.store_url} did not answer: "
                                   f"{exc}") from exc
        if status == 200 and isinstance(body, dict):
            return body["columns"], body["rows"]
        message = body.get("error", body) if isinstance(body, dict) else body
        if status == 400:
            raise QueryError(str(message))
        raise StackError(f"store endpoint answered {status}: {message}")

    def command(self, sql: str) -> None:
        """DDL and mutations: chDB runs them through the same query path."""
        self.query(sql)


def open_store(settings: Settings) -> Store:
    """The configured ClickHouse, else the running embedded stack's store."""
    if settings.clickhouse_dsn:
        from sinks.writer import ClientStore, connect
        return ClientStore(connect(settings.clickhouse_dsn))
    return StackStore(StackInfo.load(settings.data_dir))

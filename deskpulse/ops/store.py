"""Where SQL and admin operations go: a configured ClickHouse, or the running embedded stack.

Reading (``query``, ``report``): :func:`open_store`. Against the embedded stack that is
the store owner's read-only query path (one SELECT-like statement, bounded result,
:mod:`sinks.readonly`) with the query token from ``stack.json``.

Writing (``forget``, ``db migrate``, ``db retention``, ``recategorize``, ``team``):
:func:`open_admin`, named operations of :mod:`sinks.admin`. Against the embedded stack
they are requests to the store owner's ``/admin/<operation>`` with the admin token
from ``<data dir>/admin.token``; against a configured ClickHouse server the CLI runs
them itself, with the server's own credentials and access control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson

from deskpulse.core import errors
from deskpulse.core.errors import DeskpulseError, QueryRefused, StackError, StoreUnavailable
from deskpulse.core.procs import http_json
from deskpulse.core.settings import Settings
from deskpulse.core.sql import Result, SqlStore
from deskpulse.core.stackfile import StackInfo

Store = SqlStore

#: error types the store endpoint may name, raised again here as themselves
_KNOWN_ERRORS: dict[str, type[DeskpulseError]] = {
    name: getattr(errors, name) for name in (
        "ConfigError", "PolicyError", "QueryError", "QueryRefused", "ResultTooLarge",
        "StackError", "OperationalError", "BrokerUnavailable", "StoreUnavailable")}


def _post(url: str, token: str, body: dict[str, Any], timeout: float) -> Any:
    """POST ``body`` to the store endpoint; the answer, or the project's error for it."""
    try:
        status, answer = http_json(url, timeout=timeout, body=orjson.dumps(body), token=token)
    except OSError as exc:
        raise StoreUnavailable(f"the stack's store at {url} did not answer: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise StackError(f"the stack's store at {url} answered something that is not "
                         f"JSON: {exc}") from exc
    if status == 200:
        return answer
    message = str(answer.get("error", answer)) if isinstance(answer, dict) else str(answer)
    kind = answer.get("type") if isinstance(answer, dict) else None
    if status == 401:
        raise StackError(f"the stack's store refused the credential: {message}",
                         hint="is the data dir that of the running stack?")
    if isinstance(kind, str) and kind in _KNOWN_ERRORS:
        raise _KNOWN_ERRORS[kind](message)
    if status == 413:
        raise QueryRefused(message)
    if status >= 500:
        raise StoreUnavailable(f"the stack's store failed ({status}): {message}")
    raise StackError(f"the stack's store answered {status}: {message}")


class StackStore:
    """Read-only SQL through the embedded stack's sink, which owns the chDB directory."""

    def __init__(self, info: StackInfo, timeout: float = 120.0) -> None:
        self._info = info
        self._timeout = timeout

    def query(self, sql: str) -> Result:
        answer = _post(f"{self._info.store_url}/query", self._info.token, {"sql": sql},
                       self._timeout)
        if not isinstance(answer, dict) or not {"columns", "rows"} <= set(answer):
            raise StackError(f"the stack's store answered {str(answer)[:200]!r}")
        return answer["columns"], answer["rows"]

    def command(self, sql: str) -> None:
        raise QueryRefused("the embedded stack's query path is read-only; erasure, "
                           "migrations, retention, relabelling and teams are admin "
                           "operations (deskpulse forget, db ..., recategorize, team)")


class Admin(Protocol):
    def run(self, op: str, params: dict[str, Any],
            progress: Callable[[str], None] = ...) -> dict[str, Any]:
        """Run a named admin operation (see :mod:`sinks.admin`)."""
        ...


class StackAdmin:
    """Admin operations executed by the embedded stack's sink, with the admin token."""

    def __init__(self, info: StackInfo, timeout: float = 3600.0) -> None:
        self._info = info
        self._token = info.admin_token()
        self._timeout = timeout

    def run(self, op: str, params: dict[str, Any],
            progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
        answer = _post(f"{self._info.store_url}/admin/{op}", self._token, params,
                       self._timeout)
        if not isinstance(answer, dict):
            raise StackError(f"the stack's store answered {str(answer)[:200]!r}")
        for step in answer.get("progress", []):
            progress(step)
        return answer


class DirectAdmin:
    """Admin operations run here against a configured ClickHouse server."""

    def __init__(self, store: SqlStore, policies: Callable[[], Any] | None) -> None:
        self._store = store
        self._policies = policies

    def run(self, op: str, params: dict[str, Any],
            progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
        from sinks import admin
        return admin.run(op, params, admin.AdminContext(self._store, self._policies,
                                                        progress))


def open_store(settings: Settings) -> Store:
    """The configured ClickHouse, else the running embedded stack's read-only store."""
    if settings.clickhouse_dsn:
        from sinks.writer import ClientStore, connect
        return ClientStore(connect(settings.clickhouse_dsn))
    return StackStore(StackInfo.load(settings.data_dir))


def open_admin(settings: Settings, policies: Callable[[], Any] | None = None) -> Admin:
    """Admin operations on the configured ClickHouse (run here; ``policies`` reads the
    policy topics for relabelling), else through the running embedded stack's sink."""
    if settings.clickhouse_dsn:
        from sinks.writer import ClientStore, connect
        return DirectAdmin(ClientStore(connect(settings.clickhouse_dsn)), policies)
    return StackAdmin(StackInfo.load(settings.data_dir))

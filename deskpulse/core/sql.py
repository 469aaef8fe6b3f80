"""Small helpers to build ClickHouse SQL safely, and what a SQL store offers."""

from __future__ import annotations

from typing import Any, Protocol

Result = tuple[list[str], list[list[Any]]]


class SqlStore(Protocol):
    """A ClickHouse (server or chDB), or the embedded stack's store endpoint."""

    def query(self, sql: str) -> Result:
        """Column names and rows."""
        ...

    def command(self, sql: str) -> None:
        """DDL and mutations."""
        ...


def literal(value: str) -> str:
    """A ClickHouse string literal for ``value`` (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

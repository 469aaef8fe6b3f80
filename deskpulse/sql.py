"""Small helpers to build ClickHouse SQL safely."""

from __future__ import annotations


def literal(value: str) -> str:
    """A ClickHouse string literal for ``value`` (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

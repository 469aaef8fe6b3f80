"""Rendering query results for the terminal: table, JSON or CSV. Pure."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from tabulate import tabulate

FORMATS = ("table", "json", "csv")


def render(columns: list[str], rows: list[list[Any]], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps([dict(zip(columns, r, strict=True)) for r in rows],
                            option=orjson.OPT_INDENT_2, default=str).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "table":
        return tabulate(rows, headers=columns) + f"\n({len(rows)} rows)\n"
    raise ValueError(f"unknown format {fmt!r}")

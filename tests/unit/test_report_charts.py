"""The reports' pure pieces: chart scale and ticks, legends, escaping, the period of
``--from``/``--to`` in the tenant's time zone, the hours of the day."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from deskpulse.core.errors import ConfigError
from deskpulse.ops import charts
from deskpulse.ops.report import ReportData, describe, hours_of_day, period, render_html

NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("peak", "end"), [(0.0, 1.0), (0.3, 0.5), (1.0, 1.0), (1.01, 2.0),
                                           (2.2, 2.5), (3.0, 5.0), (7.5, 10.0), (12, 20),
                                           (0.012, 0.02), (float("nan"), 1.0)])
def test_the_axis_ends_on_a_round_number_at_or_above_the_peak(peak, end):
    assert charts.scale(peak) == pytest.approx(end)


def test_ticks_carry_the_unit():
    assert charts.ticks(2.5, "h") == ["0 h", "1.25 h", "2.5 h"]


def test_a_chart_has_a_legend_for_each_series_drawn_an_axis_and_bars_to_scale():
    out = charts.bars("c", "Title", charts.series_rows([["ann", 2.0, 0.5], ["bo", 1.0, 0.0]],
                                                       ["active", "idle"]))
    assert re.findall(r'class="key" data-series="(\w+)"', out) == ["active", "idle"]
    assert f'fill="{charts.COLOURS["idle"]}"' in out and "bars in hours" in out
    assert re.findall(r'<span class="tick">([^<]*)</span>', out) == ["0 h", "1 h", "2 h"]
    widths = re.findall(r'data-label="(\w+)" data-series="(\w+)" data-value="([\d.]+)" '
                        r'x="0" y="\d+" width="([\d.]+)%"', out)
    assert widths == [("ann", "active", "2.0", "100.000"), ("ann", "idle", "0.5", "25.000"),
                      ("bo", "active", "1.0", "50.000"), ("bo", "idle", "0.0", "0.000")]


def test_a_class_without_a_colour_of_its_own_gets_one_and_is_named():
    out = charts.bars("c", "T", [("x", [("focus time", 1.0)])])
    assert f'fill="{charts.OTHER}"' in out and "</svg> focus time</span>" in out


def test_an_empty_chart_says_so():
    assert "Nothing in this period." in charts.bars("c", "T", [])


@pytest.mark.parametrize("name", ['<script>alert(1)</script>', '"><svg onload=alert(1)>',
                                  "it's", "\u202eevil", "\U0001f600" * 50])
def test_names_are_escaped_in_text_and_attributes(name):
    out = charts.bars("c", "T", [(name, [("active", 1.0)])])
    assert "<script" not in out and "<svg onload" not in out
    assert re.findall(r"<(\w+)", out) == ["section", "h2", "p", "span", "svg", "rect", "span",
                                         "table", "tbody", "tr", "th", "td", "svg", "rect",
                                         "title", "td", "span", "tfoot", "tr", "td", "td",
                                         "div", "span", "span", "span", "td"], "no new element"
    for attr in re.findall(r'data-label="([^"]*)"', out):
        assert "<" not in attr and "'" not in attr and '"' not in attr
    assert "\u202e" not in out, "bidi overrides are shown as escapes"


def test_the_page_loads_nothing_and_runs_nothing():
    page = charts.page("t", "s", "<p>x</p>")
    assert "default-src 'none'" in page and "<script" not in page and "src=" not in page


def test_from_and_to_are_whole_days_in_the_tenants_zone():
    start, end = period(7, dt.date(2026, 11, 2), dt.date(2026, 11, 3), "Europe/Berlin", NOW)
    assert start == dt.datetime(2026, 11, 1, 23, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 3, 22, 59, 59, tzinfo=dt.UTC)


def test_a_missing_end_is_today_and_a_missing_start_days_before_it():
    start, end = period(3, None, dt.date(2026, 11, 10), "UTC", NOW)
    assert (start, end) == (dt.datetime(2026, 11, 8, tzinfo=dt.UTC),
                            dt.datetime(2026, 11, 10, 23, 59, 59, tzinfo=dt.UTC))
    start, end = period(3, dt.date(2026, 11, 19), None, "Asia/Tokyo", NOW)
    assert end == dt.datetime(2026, 11, 21, 14, 59, 59, tzinfo=dt.UTC)  # Tokyo is on the 21st


def test_without_dates_the_period_is_the_last_days_up_to_now():
    assert period(7, None, None, "UTC", NOW) == (NOW - dt.timedelta(days=7), NOW)


def test_from_after_to_is_a_config_error():
    with pytest.raises(ConfigError, match="--from 2026-11-05 is after --to 2026-11-04"):
        period(7, dt.date(2026, 11, 5), dt.date(2026, 11, 4), "UTC", NOW)


def test_the_hours_of_the_day_leave_no_gap():
    assert hours_of_day([[8, 1.0], [11, 0.5]]) == [["08:00", 1.0], ["09:00", 0.0],
                                                   ["10:00", 0.0], ["11:00", 0.5]]
    assert hours_of_day([]) == []


def report(**changes) -> ReportData:
    base = dict(tenant="acme", days=7, first="2026-11-02 09:00:00", last="2026-11-02 17:00:00",
                people=[["ann", 1.0, 0.5, 67, "code"]], productivity=[["ann", 1.0, 0, 0, 100]],
                categories=[["dev", "productive", 1.0, 1]], daily=[["2026-11-02", "ann", 1, .5]],
                by_hour=[[9, 1.0]], apps=[["code", 1.0, 1]], domains=[],
                deadletters=[["bad_format", 2]], timezone="Europe/Berlin",
                start=dt.datetime(2026, 11, 1, 23, tzinfo=dt.UTC),
                end=dt.datetime(2026, 11, 3, 22, 59, 59, tzinfo=dt.UTC))
    return ReportData(**{**base, **changes})


def test_the_report_names_its_period_zone_and_filters():
    assert describe(report()) == "2026-11-02 00:00 to 2026-11-03 23:59 (Europe/Berlin)"
    assert describe(report(teams=("red",), users=("ann",))).endswith("; team red; people ann")
    page = render_html(report())
    assert "Active hours by hour of day (Europe/Berlin)" in page and "09:00" in page
    assert "(Europe/Berlin): 1 people" in page
    assert "Rejected messages" in page
    assert "Rejected messages" not in render_html(report(teams=("red",), deadletters=[]))

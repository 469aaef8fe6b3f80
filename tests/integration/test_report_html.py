"""`deskpulse report --html`: opened in headless Chromium, charts drawn, numbers right."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
from PIL import Image

from deskpulse.ops.report import collect, render_html
from sinks.writer import ClientStore
from tests.helpers.browser import dump_dom, screenshot
from tests.helpers.seed import HOUR, LABELS, PEOPLE, minutes, seed

pytestmark = pytest.mark.integration

TENANT = "t-report"


class Page(HTMLParser):
    """Bars of each chart and cells of each table, as the browser left them."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, list[dict]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._chart = self._table = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and a.get("id", "").startswith("chart-"):
            self._chart = a["id"][6:]
            self.bars[self._chart] = []
        elif tag == "rect" and self._chart and "bar" in a.get("class", ""):
            self.bars[self._chart].append(a)
        elif tag == "table":
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        elif tag == "td" and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_html_report_in_a_real_browser_shows_the_query_results(chdb, tmp_path):
    seed(chdb, TENANT)
    data = collect(ClientStore(chdb), TENANT, days=7,
                   end=dt.datetime.fromtimestamp(HOUR + 86_400, dt.UTC))
    assert [p[0] for p in data.people] == ["dave", "bob", "alice"]
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(data))
    url = page_file.as_uri()

    page = Page()
    page.feed(dump_dom(url, tmp_path / "profile"))
    assert set(page.bars) == {"people", "productivity", "hours", "apps", "domains"}
    for chart, bars in page.bars.items():
        assert any(float(b["height"]) > 0 for b in bars), f"chart {chart} is empty"
        for b in bars:  # drawn to scale: height proportional to the value
            assert (float(b["height"]) > 0) == (float(b["data-value"]) > 0), (chart, b)
        tallest = max(bars, key=lambda b: float(b["data-value"]))
        ratios = {round(float(b["height"]) / float(tallest["height"]), 3) -
                  round(float(b["data-value"]) / float(tallest["data-value"]), 3) for b in bars}
        assert max(map(abs, ratios)) < 0.01, chart
    active = {b["data-label"]: float(b["data-value"]) for b in page.bars["people"]
              if b["data-series"] == "active"}
    assert active == {p[0]: float(p[1]) for p in data.people}
    assert {b["data-label"]: float(b["data-value"]) for b in page.bars["apps"]} == \
        {a[0]: float(a[1]) for a in data.apps}
    assert page.tables["people"][1:] == [[str(c) for c in row] for row in data.people]
    assert page.tables["apps"][1:] == [[str(c) for c in row] for row in data.apps]
    productive = {b["data-label"]: float(b["data-value"]) for b in page.bars["productivity"]
                  if b["data-series"] == "productive"}
    assert productive == {u: round(minutes(u, "code") / 60, 2) for u in PEOPLE}
    assert page.tables["productivity"][1:] == [[str(c) for c in row] for row in data.productivity]
    assert [row[:2] for row in page.tables["categories"][1:]] == \
        [list(LABELS["code"]), list(LABELS["firefox"])]
    assert len(page.tables["daily"]) - 1 == len(PEOPLE)

    shot = Image.open(screenshot(url, tmp_path / "profile", tmp_path / "report.png")).convert(
        "RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "the page is not blank"
    active_blue = sum(n for n, rgb in colours if rgb == (0x2f, 0x7e, 0xd8))
    assert active_blue > 500, "the bars are painted"

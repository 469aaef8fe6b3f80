"""`deskpulse report --html`: opened in headless Chromium, its labels never overlap, every
chart has a legend and a unit, the numbers are the queries', hostile names stay text.

The people and apps include markup, quotes, right-to-left text, emoji and names far too
long for their column: the test measures the box of every label, number, tick and legend
key on the page (the text itself, not its cell) and of every chart's bars, and fails if
any two of them overlap or one runs off the page.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from deskpulse.ops.report import collect, render_html
from sinks.writer import ClientStore
from tests.helpers.cdp import Browser
from tests.helpers.seed import HOUR, LABELS, PEOPLE, add_span, minutes, seed

pytestmark = pytest.mark.integration

TENANT = "t-report"
END = dt.datetime.fromtimestamp(HOUR + 86_400, dt.UTC)
HOSTILE_PEOPLE = ['<script>alert("p")</script>', "o'brien \"the quote\"",
                  "\u05d3\u05e0\u05d9\u05d0\u05dc \u05db\u05d4\u05df", "\U0001f600\U0001f680 emoji",
                  "a-person-with-a-name-far-too-long-for-any-column-" * 3,
                  "W" * 90]  # no place to break at all
LONG_APP = "<img src=x onerror=alert(1)>" + "-an-application-name-without-any-space" * 4
CATEGORY_CLASSES = {cls for _, cls in LABELS.values()}
#: what every text box of the page is measured by (a Range over the element's text)
BOXES = """JSON.stringify([...document.querySelectorAll(
    'th.label, td.num, .tick, .key, td.bars svg, svg text')].map(e => {
      let r = e.getBoundingClientRect();
      if (!(e instanceof SVGSVGElement)) { const range = document.createRange();
        range.selectNodeContents(e); r = range.getBoundingClientRect(); }
      return [r.left, r.top, r.right, r.bottom, e.textContent.slice(0, 40),
              e.closest('section') ? e.closest('section').id : ''];
    }).filter(b => b[2] > b[0] && b[3] > b[1]))"""


@pytest.fixture(scope="module")
def page(chdb, tmp_path_factory):
    seed(chdb, TENANT)
    for n, who in enumerate(HOSTILE_PEOPLE):
        add_span(chdb, TENANT, who, LONG_APP if n == 0 else "code", HOUR + 7200 + 600 * n,
                 3 + n)
    data = collect(ClientStore(chdb), TENANT, days=7, end=END, timezone="Asia/Kolkata")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(data))
    return data, path


def overlaps(boxes: list) -> list[tuple[str, str]]:
    bad = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if not (a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5
                    or b[3] <= a[1] + 0.5):
                bad.append((f"{a[5]}:{a[4]!r}", f"{b[5]}:{b[4]!r}"))
    return bad


@pytest.mark.parametrize("width", [1280, 420])  # a desktop window and a phone
def test_no_label_overlaps_another_or_runs_off_the_page(page, tmp_path, width):
    _, path = page
    browser = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                     deviceScaleFactor=1, mobile=False)
        browser.goto(path.as_uri())
        browser.wait("document.readyState === 'complete'")
        boxes = json.loads(browser.evaluate(BOXES))
        assert overlaps(boxes) == []
        labels = [b for b in boxes if b[5] == "people"]
        assert len(labels) >= 3 * (len(PEOPLE) + len(HOSTILE_PEOPLE)), "labels, bars, numbers"
        page_width = browser.evaluate("document.documentElement.clientWidth")
        wide = browser.evaluate("""[...document.querySelectorAll('body *')].filter(
            e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map(e => e.tagName + '.' + (e.getAttribute('class') || '') + ' '
                 + e.textContent.slice(0, 30))""")
        assert wide == [], "nothing is wider than the page"
        assert [b[4] for b in boxes if b[2] > page_width + 0.5] == [], "off the page"
    finally:
        browser.close()


def test_every_chart_has_a_legend_a_unit_and_bars_drawn_to_scale(page, tmp_path):
    data, path = page
    browser = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        browser.goto(path.as_uri())
        browser.wait("document.readyState === 'complete'")
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert browser.evaluate("document.title").startswith(f"deskpulse report — {TENANT}")

        def keys(chart: str) -> list[str]:
            return browser.evaluate(f"[...document.querySelectorAll('#{chart} .key')]"
                                    ".map(e => e.textContent.trim())")
        assert keys("people") == ["active", "idle"]
        assert keys("productivity") == ["productive", "neutral", "unproductive"]
        assert set(keys("categories")) == CATEGORY_CLASSES, "which class is which colour"
        swatches = browser.evaluate("""Object.fromEntries([...document.querySelectorAll(
            '#categories .key')].map(k => [k.dataset.series,
                                           k.querySelector('rect').getAttribute('fill')]))""")
        bars = browser.evaluate("""Object.fromEntries([...document.querySelectorAll(
            '#categories rect.bar')].map(r => [r.dataset.series, r.getAttribute('fill')]))""")
        assert swatches == bars, "each bar has its legend's colour"
        charts = browser.evaluate("[...document.querySelectorAll('section.chart')]"
                                  ".filter(s => s.querySelector('rect.bar')).map(s => s.id)")
        assert set(charts) == {"people", "productivity", "categories", "hours", "daily",
                               "apps", "domains"}
        for chart in charts:
            unit = browser.evaluate(f"document.querySelector('#{chart} .legend .unit')"
                                    ".textContent")
            assert unit == "bars in hours", chart
            ticks = browser.evaluate(f"[...document.querySelectorAll('#{chart} .tick')]"
                                     ".map(e => e.textContent)")
            assert ticks[0] == "0 h" and all(t.endswith(" h") for t in ticks), chart
            bars = json.loads(browser.evaluate(f"""JSON.stringify([...document.querySelectorAll(
                '#{chart} rect.bar')].map(r => [Number(r.dataset.value), r.getBBox().width,
                r.ownerSVGElement.getBoundingClientRect().width]))"""))
            end = float(ticks[-1].split()[0])
            for value, drawn, full in bars:  # to the axis' scale
                assert abs(drawn - full * value / end) < 0.6, (chart, value, drawn, full)
        active = json.loads(browser.evaluate("""JSON.stringify([...document.querySelectorAll(
            '#people rect.bar')].filter(r => r.dataset.series === 'active').map(
            r => [r.dataset.label, Number(r.dataset.value)]))"""))
        assert dict(active) == {p[0]: float(p[1]) for p in data.people}
        assert set(dict(active)) >= set(HOSTILE_PEOPLE), "every name, as text"
        assert LONG_APP in browser.evaluate("[...document.querySelectorAll('#apps th.label')]"
                                            ".map(e => e.textContent)")
    finally:
        browser.close()


def test_the_page_is_self_contained_and_every_name_is_escaped(page):
    data, path = page
    html = path.read_text()
    assert "<script" not in html and "<img" not in html
    assert "http" not in html.replace("http-equiv", ""), "nothing loaded from anywhere"
    assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt;" in html
    assert "o&#x27;brien &quot;the quote&quot;" in html
    assert minutes("dave", "code") > 0 and len(data.people) == len(PEOPLE) + len(HOSTILE_PEOPLE)

"""``deskpulse report --user U``: a person's week, with the numbers the managers' boards show.

On chDB with the known dataset (tests/helpers/seed.py), the person's report is compared
with the managers' report (the team overview panels, run for everybody) and with the
seed's own minutes; the HTML page is opened in headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pytest

from deskpulse.ops.myreport import collect_person, render_person_html, render_person_text
from deskpulse.ops.report import collect
from sinks.writer import ClickHouseWriter, ClientStore
from tests.helpers.cdp import Browser
from tests.helpers.seed import HOUR, LABELS, PEOPLE, minutes, seed

pytestmark = pytest.mark.integration

TENANT = "t-myreport"
END = dt.datetime.fromtimestamp(HOUR + 86_400, dt.UTC)
ODD = '<b>zoë&"😀'
LONG_APP = "<script>alert(1)</script>" + "-a-very-long-application-name-without-spaces" * 4


def hours(m: int) -> float:
    return round(m / 60, 2)


@pytest.fixture(scope="module")
def store(chdb):
    seed(chdb, TENANT)
    start = (HOUR + 7200) * 1000  # a person and an app whose names are markup
    span = {"event_id": "odd-1", "tenant": TENANT, "user": ODD, "host": "pc",
            "app": LONG_APP, "exe": "", "title": "", "url": "",
            "domain": "", "start_ms": start, "end_ms": start + 120_000, "idle": False}
    rollup = {k: span[k] for k in ("event_id", "tenant", "user", "host", "app", "domain",
                                   "idle")} | {"minutes": [[start // 1000, 60_000],
                                                           [start // 1000 + 60, 60_000]]}
    ClickHouseWriter(chdb).write("deskpulse.spans_in", orjson.dumps(span), "odd-span")
    ClickHouseWriter(chdb).write("deskpulse.rollups_in", orjson.dumps(rollup), "odd-rollup")
    return ClientStore(chdb)


@pytest.mark.parametrize("user", list(PEOPLE))
def test_a_persons_report_has_the_numbers_the_managers_boards_show_for_them(store, user):
    mine = collect_person(store, TENANT, user, days=7, end=END)
    board = collect(store, TENANT, days=7, end=END)
    [row] = [p for p in board.people if p[0] == user]
    assert mine.totals == row[1:]
    assert mine.daily == [[d, a, i] for d, p, a, i in board.daily if p == user]
    # and the seed's own minutes: nothing of the other people is counted
    assert {a: h for a, h in mine.apps} == {app: hours(minutes(user, app))
                                            for app in ("code", "firefox")}
    assert mine.sites == [["github.com", hours(minutes(user, "firefox"))]]
    assert {c: h for c, h in mine.categories} == {LABELS[a][0]: hours(minutes(user, a))
                                                  for a in ("code", "firefox")}
    assert {c: h for c, h in mine.productivity} == {LABELS[a][1]: hours(minutes(user, a))
                                                    for a in ("code", "firefox")}
    assert float(mine.totals[0]) == hours(minutes(user, "code") + minutes(user, "firefox"))
    text = render_person_text(mine)
    assert f"{float(mine.totals[0]):.2f} h active" in text
    assert all(other not in text for other in PEOPLE if other != user)


def test_nobody_recorded_gets_an_empty_report(store):
    mine = collect_person(store, TENANT, "nobody", days=7, end=END)
    assert mine.totals == [] and mine.apps == [] and mine.daily == []
    assert "Nothing recorded" in render_person_text(mine)
    assert "Nothing recorded" in render_person_html(mine)


def test_the_html_report_is_escaped_labelled_and_its_labels_never_overlap(store, tmp_path):
    mine = collect_person(store, TENANT, ODD, days=7, end=END)
    page = render_person_html(mine)
    assert "<script" not in page and "<b>zo" not in page
    assert "http" not in page.replace("http-equiv", ""), "no external asset"
    path = tmp_path / "me.html"
    path.write_text(page)
    bob = tmp_path / "bob.html"
    bob.write_text(render_person_html(collect_person(store, TENANT, "bob", days=7, end=END)))
    browser = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        browser.goto(path.as_uri())
        browser.wait("document.readyState === 'complete'")
        assert browser.evaluate("document.querySelector('h1').textContent") == \
            f"Your deskpulse report: {ODD} ({TENANT})"
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert browser.evaluate(
            "document.querySelector('#apps th.label').textContent") == LONG_APP
        overlaps = """JSON.stringify([...document.querySelectorAll('th.label, td.num')]
            .map(e => { const range = document.createRange(); range.selectNodeContents(e);
                        const r = range.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom, e.textContent]; }))"""
        for page_url in (path.as_uri(), bob.as_uri()):  # the long label, then many rows
            browser.goto(page_url)
            browser.wait("document.readyState === 'complete'")
            boxes = json.loads(browser.evaluate(overlaps))  # the text itself, not its cell
            assert len(boxes) >= 4
            width = browser.evaluate("document.documentElement.clientWidth")
            for i, a in enumerate(boxes):
                assert a[2] <= width + 0.5, f"{a[4]!r} runs off the page"
                for b in boxes[i + 1:]:
                    apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
                    assert apart, f"{a[4]!r} overlaps {b[4]!r}"
        legends = browser.evaluate("[...document.querySelectorAll('#daily .key')]"
                                   ".map(e => e.textContent.trim()).join(',')")
        assert legends == "active,idle"
        bars = json.loads(browser.evaluate("""JSON.stringify([...document.querySelectorAll(
            '#apps rect.bar')].map(r => [Number(r.dataset.value), r.getBBox().width]))"""))
        (v1, w1), (v2, w2) = sorted(bars)
        assert w2 > w1 > 0 and abs(w1 / w2 - v1 / v2) < 0.01, "bars drawn to scale"
    finally:
        browser.close()

"""The "my data" page of the real collector (Xvfb, tansu) in headless Chromium.

What the page lists as sent today must be exactly what reached the broker (titles
redacted as sent), and "pause" on the page must stop recording.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from deskpulse.cli import cli
from tests.conftest import wait_for
from tests.helpers.cdp import Browser
from tests.helpers.collector_proc import CollectorProc
from tests.integration.test_collector_x11 import desktop, published  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

SECRET = "secret-Qx81"
ALPHA = f"Alpha doc {SECRET}"
ROWS_JS = """JSON.stringify([...document.querySelectorAll('#sent tbody tr')].map(tr => ({
  event_id: tr.dataset.eventId, start_ms: Number(tr.dataset.startMs),
  end_ms: Number(tr.dataset.endMs), idle: tr.dataset.idle === '1',
  app: tr.cells[2].textContent, title: tr.cells[3].textContent, url: tr.cells[4].textContent})))
"""


def as_row(event: dict) -> dict:
    return {"event_id": event["event_id"], "start_ms": event["start_ms"],
            "end_ms": event["end_ms"], "idle": bool(event.get("idle", False)),
            "app": event["app"], "title": event.get("title", ""), "url": event.get("url", "")}


def page_rows(browser: Browser) -> list[dict]:
    import json
    return json.loads(browser.evaluate(ROWS_JS))


def test_the_page_shows_what_reached_the_broker_and_pauses_recording(desktop, broker,  # noqa: F811
                                                                      tmp_path):
    desktop.open_window(ALPHA, "Alphaapp")
    desktop.open_window("Beta sheet", "Betaapp")
    proc = CollectorProc(tmp_path, desktop, broker, user="mydata-page", max_span=2,
                         redact=[r"secret-\w+"])
    proc.start()
    browser = None
    try:
        for title in (ALPHA, "Beta sheet", ALPHA):
            desktop.activate(title)
            time.sleep(1.5)
        wait_for(lambda: proc.status()["published"] >= 3, 30, "events sent")
        result = CliRunner().invoke(cli, ["collector", "open", "--print-url", "--config",
                                          str(proc.config)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        address = result.output.strip()
        assert "#token=" in address and address.startswith("http://127.0.0.1:")

        browser = Browser(tmp_path / "profile", tmp_path / "chromium.log")
        browser.goto(address)
        browser.wait("document.body.dataset.loaded")
        assert browser.evaluate("location.hash") == "", "the token left the address bar"
        browser.evaluate("document.getElementById('pause-until').click()")
        browser.wait("document.getElementById('state').dataset.state === 'paused'")
        status = proc.status()
        assert status["paused"] and status["paused_until_ms"] is None
        paused_at = status["paused_since_ms"]
        wait_for(lambda: (s := proc.status())["spooled"] == 0 and s["in_flight"] == 0, 30,
                 "everything recorded before the pause to be sent")
        sent_before = proc.status()["published"]

        # paused: switching windows records nothing
        for title in ("Beta sheet", ALPHA, "Beta sheet"):
            desktop.activate(title)
            time.sleep(1.0)
        assert proc.status()["published"] == sent_before and proc.status()["spooled"] == 0

        browser.goto(address.split("#")[0])  # the tab keeps its token (sessionStorage)
        browser.wait("document.body.dataset.loaded && "
                     "document.querySelectorAll('#sent tbody tr').length > 0")
        shown = page_rows(browser)
        dom = browser.evaluate("document.documentElement.outerHTML")
        broker_events = published(broker, "mydata-page", expect_at_least=sent_before)
        assert shown == [as_row(e) for e in broker_events], "the page equals the broker"
        assert all(e["end_ms"] <= paused_at for e in broker_events), "nothing after the pause"
        assert SECRET not in dom and "[redacted]" in {r["title"].split()[-1] for r in shown}
        assert browser.evaluate("document.querySelectorAll('#pauses li').length") == 1

        browser.evaluate("document.getElementById('resume').click()")
        browser.wait("document.getElementById('state').dataset.state !== 'paused'")
        assert not proc.status()["paused"]
        desktop.activate(ALPHA)
        time.sleep(1.0)
        desktop.activate("Beta sheet")
        wait_for(lambda: proc.status()["published"] > sent_before, 30,
                 "recording after resuming")
    finally:
        if browser is not None:
            browser.close()
        assert proc.stop() == 0
    assert not (tmp_path / "mydata.json").exists(), "the token file goes with the collector"

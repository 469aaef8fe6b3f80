"""The WebExtension in a real Chromium on Xvfb, talking to the collector's loopback endpoint."""

from __future__ import annotations

import secrets
import time

import niquests
import pytest

from collector.browser import BrowserEndpoint, BrowserReports
from collector.extension import build
from deskpulse.core.procs import free_port
from tests.conftest import wait_for
from tests.helpers.browser import headed
from tests.helpers.collector_proc import CollectorProc
from tests.helpers.pages import PageChain
from tests.integration.xdesktop import require, x_desktop

pytestmark = pytest.mark.integration

EXT_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


class Recorder(BrowserReports):
    """The real report store, keeping every report in arrival order as well."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str, str]] = []

    def update(self, family: str, url: str, title: str) -> None:
        self.log.append((family, url, title))
        super().update(family, url, title)

    def urls(self) -> list[str]:
        out: list[str] = []
        for _, url, _ in self.log:
            if url and (not out or out[-1] != url):
                out.append(url)
        return out


@pytest.fixture()
def endpoint():
    reports = Recorder()
    token = secrets.token_urlsafe(24)
    server = BrowserEndpoint(reports, port=0, token=token)
    server.start()
    try:
        yield server, token
    finally:
        server.stop()


def test_only_the_extension_with_the_token_is_heard(endpoint):
    server, token = endpoint
    url = f"http://127.0.0.1:{server.port}/v1/active-tab"
    body = {"browser": "chromium", "url": "https://example.org/a", "title": "A"}

    def post(headers, json=body):
        return niquests.post(url, json=json, headers=headers, timeout=5).status_code

    good = {"Authorization": f"Bearer {token}", "Origin": EXT_ORIGIN}
    assert post({"Origin": EXT_ORIGIN}) == 401
    assert post({**good, "Authorization": "Bearer wrong"}) == 401
    assert post({**good, "Origin": "https://evil.example"}) == 403, "a web page is refused"
    assert post({"Authorization": f"Bearer {token}"}) == 403, "no origin, no extension"
    assert post(good, {"browser": "chromium", "url": "file:///etc/passwd"}) == 400
    assert post(good, {"browser": "netscape", "url": ""}) == 400
    assert niquests.options(url, headers={"Origin": "https://evil.example"},
                            timeout=5).status_code == 403
    assert server.reports.log == [] and server.refused == 7
    assert post(good) == 204
    assert server.reports.url_for("Chromium", int(time.time() * 1000)) == "https://example.org/a"
    assert server.reports.url_for("code", int(time.time() * 1000)) == ""


def test_real_chromium_reports_each_page_in_order_and_never_an_incognito_one(endpoint,
                                                                             tmp_path):
    require("Xvfb", "openbox", "chromium")
    server, token = endpoint
    extension = build(tmp_path / "ext", port=server.port, token=token).unpacked
    with x_desktop(tmp_path) as (desktop, _):
        pages = PageChain(4, dwell_s=1.0)
        browser = headed(pages.page(0), tmp_path / "profile", extension, desktop.env,
                         tmp_path / "chromium.log")
        try:
            wait_for(lambda: pages.page(3) in server.reports.urls(), timeout=90,
                     what="the extension to report the last page")
        finally:
            browser.stop(timeout=10)
            pages.close()
        assert server.reports.urls()[:4] == [pages.page(n) for n in range(4)]
        assert {family for family, _, _ in server.reports.log} == {"chromium"}

        heard = len(server.reports.log)
        private = PageChain(3, dwell_s=0.5)
        browser = headed(private.page(0), tmp_path / "profile-2", extension, desktop.env,
                         tmp_path / "chromium-2.log", "--incognito")
        try:
            wait_for(lambda: private.done.is_set() and len(server.reports.log) > heard,
                     timeout=90, what="the private pages to load and the extension to start")
            time.sleep(2)  # anything the extension would send about them has arrived by now
        finally:
            browser.stop(timeout=10)
            private.close()
        new = server.reports.log[heard:]
        assert new and all(url == "" for _, url, _ in new), new
        assert not any(private.base in url for _, url, _ in server.reports.log)


def test_urls_from_a_real_browser_reach_clickhouse_through_the_pipeline(stack, stack_store,
                                                                         tmp_path):
    """Chromium on Xvfb -> extension -> `deskpulse collect` -> tansu -> worker -> sink -> chDB."""
    require("Xvfb", "openbox", "chromium")
    token = secrets.token_urlsafe(24)
    port = free_port()
    extension = build(tmp_path / "ext", port=port, token=token).unpacked
    with x_desktop(tmp_path) as (desktop, _):
        pages = PageChain(3, dwell_s=4.0)
        metrics = tmp_path / "textfile" / "deskpulse.prom"
        collector = CollectorProc(tmp_path, desktop, stack.broker, "browsing-bob",
                                  browser_port=port, browser_token=token, url_mode="full",
                                  metrics_file=str(metrics))
        collector.start()
        wait_for(metrics.exists, timeout=30, what="the collector's metrics file")
        assert 'deskpulse_collector_samples{tenant="default",host="xvfb-host"}' in \
            metrics.read_text()
        browser = headed(pages.page(0), tmp_path / "profile", extension, desktop.env,
                         tmp_path / "chromium.log")
        try:
            wait_for(pages.done.is_set, timeout=120, what="the browser to walk the pages")
            time.sleep(2)
        finally:
            browser.stop(timeout=10)
            pages.close()
        assert collector.stop() == 0  # closes the open span and flushes the spool

    def stored() -> list:
        _, rows = stack_store.query(
            "SELECT url, domain, app FROM deskpulse.activity_spans "
            "WHERE user = 'browsing-bob' AND url != '' ORDER BY start")
        return rows
    wait_for(lambda: {pages.page(n) for n in range(3)} <= {r[0] for r in stored()},
             timeout=120, what="spans with the pages' URLs in ClickHouse", interval=1)
    rows = stored()
    assert all(domain == "127.0.0.1" for _, domain, _ in rows)
    assert {app.lower() for _, _, app in rows} == {"chromium"}
    urls = [r[0] for r in rows]
    assert [u for i, u in enumerate(urls) if u.startswith(pages.base) and
            (i == 0 or urls[i - 1] != u)][:3] == [pages.page(n) for n in range(3)]

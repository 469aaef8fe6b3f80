"""The browser's side of URL capture: reports from the deskpulse WebExtension.

The extension (``collector/browser_extension``) posts the active tab's URL and
title to :class:`BrowserEndpoint` on 127.0.0.1 whenever the tab, its URL or the
focused window changes, and once a minute. Only requests with the per-install
token and from an extension origin are taken. :class:`BrowserReports` keeps the
latest report per browser family and answers the collector's question "which
URL is this foreground app showing?" (the URL then goes through the collector's
URL reduction and redaction like any other).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from collector.httpd import HttpServer, Reply, Request

logger = logging.getLogger(__name__)

#: window-class names (lower case) of browsers, per family the extension reports as
FAMILIES = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "chrome", "brave-browser",
                 "microsoft-edge", "msedge", "vivaldi-stable", "vivaldi", "opera"),
    "firefox": ("firefox", "firefox-esr", "navigator", "librewolf"),
}
_FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
EXTENSION_ORIGINS = ("chrome-extension://", "moz-extension://")
MAX_BODY = 16 * 1024
#: a report older than this is not trusted (the extension repeats itself every minute)
MAX_AGE_MS = 3 * 60 * 1000


@dataclass(frozen=True)
class Report:
    url: str
    title: str
    at_ms: int


class BrowserReports:
    """Latest report per browser family; the collector's ``UrlSource``. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._latest: dict[str, Report] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.received = 0

    def update(self, family: str, url: str, title: str) -> None:
        with self._lock:
            self._latest[family] = Report(url, title, int(self._clock() * 1000))
            self.received += 1

    def url_for(self, app: str, at_ms: int) -> str:
        family = _FAMILY_OF.get(app.lower())
        if family is None:
            return ""
        with self._lock:
            report = self._latest.get(family)
        if report is None or at_ms - report.at_ms > MAX_AGE_MS:
            return ""
        return report.url


def parse_report(body: bytes) -> tuple[str, str, str]:
    """``(family, url, title)`` of a request body, or ValueError saying what is wrong."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    family, url, title = data.get("browser"), data.get("url", ""), data.get("title", "")
    if family not in FAMILIES:
        raise ValueError(f"browser must be one of {sorted(FAMILIES)}")
    if not isinstance(url, str) or not isinstance(title, str) or len(url) > 8192:
        raise ValueError("url and title must be strings (url at most 8192 characters)")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError("only http(s) URLs are reported")
    return family, url, title


class BrowserEndpoint:
    """``POST /v1/active-tab`` on 127.0.0.1, token- and origin-checked."""

    def __init__(self, reports: BrowserReports, *, port: int, token: str,
                 origins: tuple[str, ...] = ()) -> None:
        if not token:
            raise ValueError("the browser endpoint needs a token")
        self.reports = reports
        self.refused = 0
        self._token = f"Bearer {token}".encode()
        self._origins = origins
        self._server = HttpServer(self.answer, "127.0.0.1", port, name="browser-endpoint")

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def _refuse(self, status: int, message: str) -> Reply:
        self.refused += 1
        logger.warning("browser endpoint refused a request: %s", message)
        return _send(status, message)

    def _origin_ok(self, origin: str) -> bool:
        if self._origins:
            return origin in self._origins
        return origin.startswith(EXTENSION_ORIGINS)

    def answer(self, request: Request) -> Reply:
        """The reply to one request (:class:`collector.httpd.HttpServer` calls it)."""
        if request.method == "OPTIONS":
            return self._refuse(403, "no cross-origin access")
        if request.method == "GET":
            return _send(405, "POST only")
        if request.method != "POST":
            return _send(501, "POST only")
        if request.path != "/v1/active-tab":
            return _send(404, "not found")
        origin = request.headers.get("Origin", "")
        if not self._origin_ok(origin):
            return self._refuse(403, f"origin {origin or None!r} refused")
        auth = request.headers.get("Authorization", "").encode("latin-1")
        if not hmac.compare_digest(auth, self._token):
            return self._refuse(401, "missing or wrong token")
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            return self._refuse(400, "Content-Length is not a number")
        if length > MAX_BODY:
            return self._refuse(413, "request too large")
        try:
            family, url, title = parse_report(request.read(length))
        except (orjson.JSONDecodeError, ValueError) as exc:
            return self._refuse(400, str(exc))
        self.reports.update(family, url, title)
        return _send(204)

    def start(self) -> None:
        self._server.start()
        logger.info("browser extension endpoint on http://127.0.0.1:%d", self.port)

    def stop(self) -> None:
        self._server.stop()


def _send(status: int, message: str = "") -> Reply:
    body = orjson.dumps({"error": message}) if message else b""
    return Reply(status, body, {"Content-Type": "application/json"})

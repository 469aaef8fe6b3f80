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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

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
        endpoint = self
        self.reports = reports
        self.refused = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def _send(self, status: int, message: str = "") -> None:
                body = orjson.dumps({"error": message}) if message else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self, status: int, message: str) -> None:
                endpoint.refused += 1
                logger.warning("browser endpoint refused a request: %s", message)
                self._send(status, message)

            def _origin_ok(self) -> bool:
                origin = self.headers.get("Origin", "")
                if origins:
                    return origin in origins
                return origin.startswith(EXTENSION_ORIGINS)

            def do_OPTIONS(self) -> None:
                self._refuse(403, "no cross-origin access")

            def do_GET(self) -> None:
                self._send(405, "POST only")

            def do_POST(self) -> None:
                if self.path != "/v1/active-tab":
                    return self._send(404, "not found")
                if not self._origin_ok():
                    return self._refuse(403, f"origin {self.headers.get('Origin')!r} refused")
                auth = self.headers.get("Authorization", "").encode()
                if not hmac.compare_digest(auth, f"Bearer {token}".encode()):
                    return self._refuse(401, "missing or wrong token")
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._refuse(413, "request too large")
                try:
                    family, url, title = parse_report(self.rfile.read(length))
                except (orjson.JSONDecodeError, ValueError) as exc:
                    return self._refuse(400, str(exc))
                endpoint.reports.update(family, url, title)
                self._send(204)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="browser-endpoint", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()
        logger.info("browser extension endpoint on http://127.0.0.1:%d", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

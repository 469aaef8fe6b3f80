"""The "my data" page's loopback HTTP server, inside the running collector.

Only the person the collector runs for can use it:

* it listens on 127.0.0.1 only;
* on Linux, a connection from another uid is refused (the peer's socket is looked up in
  ``/proc/net/tcp``: loopback TCP carries no credentials of its own);
* every request's ``Host`` must be ``127.0.0.1:PORT`` or ``localhost:PORT``: a web page
  whose DNS name was rebound to 127.0.0.1 sends its own name and is refused;
* the data and the controls (``/api/...``) need ``Authorization: Bearer <token>``; the
  token is random per start and written to a 0600 file beside the control socket
  (:data:`TOKEN_FILE`), which ``deskpulse collector open`` reads to open
  ``http://127.0.0.1:PORT/#token=...``: a URL fragment never reaches a server or a log,
  and the page moves it out of the address bar at once;
* a ``POST`` must come from the page itself (``Origin`` is the page's own, and the body is
  ``application/json``, which a cross-site form cannot send without a preflight that is
  never granted).

Routes: ``GET /`` (the page; it holds no data), ``GET /app.js``, ``GET /app.css``,
``GET /api/today`` (:func:`collector.mydata.view.page`), ``POST /api/pause``
``{"for_s": seconds or null}`` and ``POST /api/resume`` (both answer the new document).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from collector.httpd import HttpServer, Reply, Request
from collector.mydata import view
from collector.mydata.sentlog import SentLog, day_start_ms
from deskpulse.core.errors import ConfigError, DeskpulseError
from deskpulse.core.privatefiles import write_private

logger = logging.getLogger(__name__)

TOKEN_FILE = "mydata.json"
MAX_BODY = 4096
STATIC_DIR = Path(__file__).resolve().with_name("static")
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/app.css": ("app.css", "text/css; charset=utf-8")}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin",
}


def token_file(control_socket: Path) -> Path:
    """Where the running collector leaves the page's address and token."""
    return control_socket.with_name(TOKEN_FILE)


def _proc_net_uid(address: str, port: int) -> int | None:
    """The uid owning the local TCP socket ``address:port`` (Linux), or None when unknown."""
    try:
        packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    except OSError:
        return None
    if len(packed) == 4:
        want = f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
        files = ("/proc/net/tcp",)
    else:
        words = [int.from_bytes(packed[i:i + 4], "little") for i in range(0, 16, 4)]
        want = "".join(f"{w:08X}" for w in words) + f":{port:04X}"
        files = ("/proc/net/tcp6",)
    for name in files:
        try:
            with open(name, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 7 and parts[1] == want:
                        return int(parts[7])
        except OSError:
            return None
    return None


def peer_uid(client: tuple[str, int]) -> int | None:
    """The uid of the process at the other end of a loopback connection (Linux)."""
    return _proc_net_uid(client[0], client[1])


class MyDataServer:
    """Serves the page for one collector; :meth:`start` writes the token file."""

    def __init__(self, collector: Any, sent_log: SentLog, control_socket: Path,
                 port: int = 0) -> None:
        self.collector, self.sent_log = collector, sent_log
        self.settings = collector.settings
        self.token = secrets.token_urlsafe(32)
        self.token_path = token_file(control_socket)
        self._uid = os.geteuid() if hasattr(os, "geteuid") else None
        try:
            self._httpd = HttpServer(self.answer, "127.0.0.1", port, name="mydata",
                                     server="deskpulse-mydata")
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1:{port} for the my-data page: "
                              f"{exc.strerror}", hint="set my_data_port to another port, or 0 "
                                                      "for any free one") from exc
        self.port = self._httpd.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        write_private(self.token_path, json.dumps({"url": self.url, "token": self.token,
                                                   "pid": os.getpid()}))
        self._httpd.start()
        logger.info("my-data page on %s", self.url)

    def open_in_browser(self) -> None:
        """Open the page for the person (the tray's "open my data")."""
        import webbrowser
        webbrowser.open(f"{self.url}#token={self.token}")

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.token_path.unlink()
        self._httpd.stop()

    # -- what the page shows ----------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        from schemas.codec import encode_event, loads
        c = self.collector
        now = c.now_ms()
        status = c.status()
        start = day_start_ms(now, self.settings.timezone)
        hours = c.policy.hours
        return view.page(self.settings, status, self.sent_log.events(start),
                         self.sent_log.pauses(start),
                         [loads(encode_event(e)) for e in c.waiting(view.SPOOL_PREVIEW)],
                         now_ms=now, day_start_ms=start,
                         inside_hours=None if hours is None else hours.allows(now))

    def pause(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"for_s"}:
            raise ConfigError('a pause is {"for_s": seconds} or {"for_s": null}')
        self.collector.set_pause(body.get("for_s"))
        return self.document()

    def resume(self, body: Any) -> dict[str, Any]:
        self.collector.resume()
        return self.document()

    # -- the requests ------------------------------------------------------------------------
    def answer(self, request: Request) -> Reply:
        """The reply to one request (:class:`collector.httpd.HttpServer` calls it)."""
        if request.method not in ("GET", "POST"):
            return _json(501, {"error": "GET or POST only"})
        post = request.method == "POST"
        path = request.path.split("?", 1)[0]
        api = path.startswith("/api/")
        refused = self.refusal(request, post=post, api=api)
        if refused is not None:
            return _json(refused[0], {"error": refused[1]})
        try:
            if not post and path in _STATIC:
                name, kind = _STATIC[path]
                return _reply(200, (STATIC_DIR / name).read_bytes(), kind)
            if not post and path == "/api/today":
                return _json(200, self.document())
            if post and path in ("/api/pause", "/api/resume"):
                return _json(200, getattr(self, path[5:])(_body(request)))
            return _json(404, {"error": "not found"})
        except DeskpulseError as exc:
            return _json(400, {"error": str(exc)})
        except Exception:  # noqa: BLE001 - one request must not end the page
            logger.exception("my-data page: %s failed", path)
            return _json(500, {"error": "internal error (see the collector's log)"})

    # -- who may ask -------------------------------------------------------------------------
    def refusal(self, request: Request, *, post: bool,
                api: bool) -> tuple[int, str] | None:
        """Why this request is refused (status, reason), or None."""
        if self._uid is not None:
            uid = peer_uid(request.client_address)
            if uid is not None and uid != self._uid:
                logger.warning("my-data page: refused a connection of uid %d", uid)
                return 403, "this page belongs to another user"
        if request.headers.get("Host", "") not in self.hosts:
            return 421, "wrong Host (open the page with deskpulse collector open)"
        if post:
            if request.headers.get("Origin", "") not in self.origins:
                return 403, "cross-origin request refused"
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin",
                                                                              "none"):
                return 403, "cross-site request refused"
            if request.headers.get("Content-Type", "").split(";")[0].strip() != \
                    "application/json":
                return 415, "the body must be application/json"
        if api:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return 401, "missing or wrong token (open the page with deskpulse collector open)"
        return None


def _reply(status: int, body: bytes, kind: str) -> Reply:
    return Reply(status, body, {**_HEADERS, "Content-Type": kind})


def _json(status: int, value: Any) -> Reply:
    return _reply(status, json.dumps(value, ensure_ascii=False).encode(),
                  "application/json; charset=utf-8")


def _body(request: Request) -> Any:
    try:
        length = int(request.headers.get("Content-Length", "0"))
    except ValueError as exc:
        raise ConfigError("Content-Length is not a number") from exc
    if not 0 <= length <= MAX_BODY:
        raise ConfigError(f"a request body is at most {MAX_BODY} bytes")
    raw = request.read(length) if length else b"{}"
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"the body is not JSON: {exc}") from exc

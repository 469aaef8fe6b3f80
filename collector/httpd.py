"""A small HTTP/1.0 server for the collector's two loopback endpoints.

The "my data" page (:mod:`collector.mydata.server`) and the browser extension's
endpoint (:mod:`collector.browser`) each answer a handful of small requests from one
person's browser on 127.0.0.1. ``http.server`` would do it, but it pulls ``http.client``
and the ``email`` package (header parsing), ``socketserver``, ``mimetypes`` and ``html``
into the collector, about 2 MB of its 30 MB RSS budget (issue 21); this module does the
little they need with the socket module alone.

One request per connection (``HTTP/1.0``, ``Connection: close``), a thread per
connection with at most :data:`MAX_CONNECTIONS` at once (more are answered 503 and
closed), a timeout on every socket read and write, and bounds on the request line, the
header count and the header bytes (431/400 beyond them). The body is the handler's to
read (:meth:`Request.read`), after it has checked ``Content-Length`` against its own limit.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import BinaryIO, NamedTuple

logger = logging.getLogger(__name__)

MAX_LINE = 8192          # request line and each header line, bytes
MAX_HEADERS = 64
MAX_HEADER_BYTES = 32 * 1024
MAX_CONNECTIONS = 16
TIMEOUT_S = 10.0

REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 415: "Unsupported Media Type",
           421: "Misdirected Request", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Headers:
    """Request headers, looked up case-insensitively (a repeated header: its last value)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._by_name = {name.lower(): value for name, value in pairs}

    def get(self, name: str, default: str = "") -> str:
        return self._by_name.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name


class Request:
    """One parsed request: method, path (with its query), headers, the peer's address."""

    def __init__(self, method: str, path: str, headers: Headers,
                 client_address: tuple[str, int], body: BinaryIO) -> None:
        self.method, self.path, self.headers = method, path, headers
        self.client_address = client_address
        self._body = body

    def read(self, length: int) -> bytes:
        """``length`` bytes of the body (fewer if the client sends fewer before closing)."""
        return self._body.read(length) if length > 0 else b""


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = {}


class BadRequest(Exception):
    """The request cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def http_date(seconds: float) -> str:
    """RFC 9110 IMF-fixdate, whatever the locale."""
    t = time.gmtime(seconds)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _line(rfile: BinaryIO) -> bytes:
    raw = rfile.readline(MAX_LINE + 1)
    if len(raw) > MAX_LINE:
        raise BadRequest(431, "line too long")
    return raw


def parse_head(rfile: BinaryIO) -> tuple[str, str, Headers]:
    """``(method, path, headers)`` of the request head read from ``rfile``; BadRequest if bad."""
    first = _line(rfile).decode("latin-1").rstrip("\r\n")
    parts = first.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/") or not parts[1].startswith("/") \
            or not parts[0].isalpha() or not parts[0].isupper():
        raise BadRequest(400, f"bad request line {first[:80]!r}")
    pairs: list[tuple[str, str]] = []
    total = 0
    while True:
        raw = _line(rfile)
        total += len(raw)
        if total > MAX_HEADER_BYTES or len(pairs) >= MAX_HEADERS:
            raise BadRequest(431, "too many header bytes or headers")
        if raw in (b"\r\n", b"\n"):
            break
        if not raw.endswith(b"\n"):
            raise BadRequest(400, "the head ended before its blank line")
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise BadRequest(400, f"bad header line {raw[:80]!r}")
        pairs.append((name, value.strip()))
    return parts[0], parts[1], Headers(pairs)


def render(status: int, body: bytes, headers: Mapping[str, str], server: str,
           now: float) -> bytes:
    """The whole response: status line, headers (with the length), blank line, body."""
    lines = [f"HTTP/1.0 {status} {REASONS.get(status, 'Unknown')}", f"Server: {server}",
             f"Date: {http_date(now)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpServer:
    """Listens on ``(host, port)`` (OSError if it cannot); ``handle`` answers each request."""

    def __init__(self, handle: Callable[[Request], Reply], host: str = "127.0.0.1",
                 port: int = 0, *, name: str = "http", server: str = "deskpulse") -> None:
        self._handle, self._name, self._server = handle, name, server
        self._sock = socket.create_server((host, port))
        self._stopping = False
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)

    @property
    def server_address(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2]

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting (requests being answered finish on their own threads)."""
        self._stopping = True
        if self._thread.is_alive():  # wake the blocked accept() with a connection of our own
            with contextlib.suppress(OSError), socket.socket(self._sock.family) as wake:
                wake.settimeout(timeout)
                wake.connect(self.server_address)
            self._thread.join(timeout)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, address = self._sock.accept()
            except OSError:
                if self._stopping:
                    return
                time.sleep(0.1)  # out of file descriptors: no busy loop
                continue
            if self._stopping:
                conn.close()
                return
            if not self._slots.acquire(blocking=False):
                self._answer_busy(conn)
                continue
            try:
                threading.Thread(target=self._serve, args=(conn, address),
                                 name=f"{self._name}-request", daemon=True).start()
            except RuntimeError:  # no thread to be had
                self._slots.release()
                self._answer_busy(conn)

    def _answer_busy(self, conn: socket.socket) -> None:
        """503 without reading the request (on the accept thread: short timeouts only)."""
        with contextlib.suppress(OSError), conn:
            conn.settimeout(0.2)
            conn.sendall(render(503, b"", {}, self._server, time.time()))
            conn.shutdown(socket.SHUT_WR)
            conn.recv(MAX_LINE)  # what already came: closing on unread data would reset

    def _serve(self, conn: socket.socket, address: tuple[str, int]) -> None:
        try:
            with conn, conn.makefile("rb") as rfile:
                conn.settimeout(TIMEOUT_S)
                try:
                    method, path, headers = parse_head(rfile)
                except BadRequest as exc:
                    logger.debug("%s: %s from %s", self._name, exc, address)
                    conn.sendall(render(exc.status, b"", {}, self._server, time.time()))
                    return
                try:
                    reply = self._handle(Request(method, path, headers, address, rfile))
                except Exception:  # noqa: BLE001 - one request must not end the server
                    logger.exception("%s: %s %s failed", self._name, method, path)
                    reply = Reply(500)
                logger.debug("%s: %s %s -> %d", self._name, method, path, reply.status)
                conn.sendall(render(reply.status, reply.body, reply.headers, self._server,
                                    time.time()))
        except OSError as exc:  # the peer went away or was too slow
            logger.debug("%s: connection from %s: %s", self._name, address, exc)
        finally:
            self._slots.release()

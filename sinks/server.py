"""The store owner's loopback endpoint: health, metrics, read-only SQL and named admin operations.

chDB locks its data directory, so while the embedded stack runs only the sink
process can read the store. Other commands send their requests here:

- ``GET /health``, ``/live``, ``/metrics``: no credential (no data in them);
- ``POST /query`` ``{"sql": "..."}`` with ``Authorization: Bearer <query token>``:
  one read-only statement (:mod:`sinks.readonly`), answered as
  ``{"columns": [...], "rows": [...]}``;
- ``POST /admin/<operation>`` ``{...parameters}`` with ``Authorization: Bearer <admin
  token>``: a named operation of :mod:`sinks.admin` (erasure, migrations, retention,
  relabelling, teams), run by this process on its own ClickHouse handle. Without an
  admin token the sink serves no admin operation.

Requests are parsed strictly and every one gets an answer: 401 without the right
credential (compared in constant time), 411 without a Content-Length, 400 for a bad
Content-Length or body, 413 above the size cap, 404/405 for other paths and methods,
400 with ``{"error", "type"}`` for a refused query or bad parameters, 503 when the store
fails. Nothing a client sends puts a traceback in the sink's log.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from deskpulse.core.errors import DeskpulseError, OperationalError
from deskpulse.core.metrics import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from sinks.readonly import json_result

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
#: seconds a client may take to send its request (headers and body)
READ_TIMEOUT_S = 30.0

Query = Callable[[str], tuple[list[str], list[list[Any]]]]
Admin = Callable[[str, dict[str, Any]], dict[str, Any]]


class RequestError(Exception):
    """A request answered with ``status`` and ``message`` (the client's mistake)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(message: str, kind: str) -> bytes:
    return orjson.dumps({"error": message, "type": kind})


def content_length(header: str | None, limit: int) -> int:
    """The body's length from its header, or :class:`RequestError`. Pure."""
    if header is None:
        raise RequestError(411, "a Content-Length header is required")
    text = header.strip()
    if not text.isdigit() or not text.isascii():
        raise RequestError(400, f"Content-Length {header[:20]!r} is not a non-negative "
                                "integer")
    length = int(text)
    if length > limit:
        raise RequestError(413, f"request body of {length} bytes is larger than the "
                                f"{limit} bytes accepted")
    return length


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`RequestError`. Pure."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object")
    return body


def sql_of(body: dict[str, Any]) -> str:
    if set(body) != {"sql"} or not isinstance(body["sql"], str):
        raise RequestError(400, 'expected a JSON body {"sql": "..."} and nothing else')
    return body["sql"]


def authorised(header: str | None, token: str | None) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>`` (False without a token)."""
    if not token:
        return False
    given = (header or "").encode("utf-8", errors="replace")
    return hmac.compare_digest(given, f"Bearer {token}".encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished or stalled: one line, not socketserver's traceback."""
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | TimeoutError):
            logger.debug("client %s: %s", client_address, exc)
        else:
            logger.error("request from %s failed: %s: %s", client_address,
                         type(exc).__name__, exc)


class StoreEndpoint:
    def __init__(self, *, host: str, port: int, token: str,
                 health: Callable[[], dict[str, Any]],
                 query: Query,
                 metrics: Callable[[], str],
                 admin_token: str | None = None,
                 admin: Admin | None = None,
                 max_body: int = MAX_BODY_BYTES) -> None:
        if not token:
            raise ValueError("the store endpoint needs a query token")
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_S
            server_version = "deskpulse-sink"
            sys_version = ""

            def log_message(self, fmt: str, *args: Any) -> None:
                logger.debug("http: " + fmt, *args)

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def send_error(self, code: int, message: str | None = None,
                           explain: str | None = None) -> None:
                """Requests the standard library refuses (bad request line, headers too
                long...): a JSON answer with a status line, also for an HTTP/0.9 line."""
                if self.request_version == "HTTP/0.9":
                    self.request_version = "HTTP/1.0"
                self.close_connection = True
                text = message or self.responses.get(code, ("error",))[0]
                self._send(code, error_body(text.encode("ascii", "replace").decode(),
                                            "RequestError"))

            def do_GET(self) -> None:
                if self.path == "/health":
                    body = endpoint.health()
                    self._send(200 if body.get("ready") else 503, orjson.dumps(body))
                elif self.path == "/live":  # liveness: the process answers
                    self._send(200, b'{"live": true}')
                elif self.path == "/metrics":
                    self._send(200, endpoint.metrics().encode(), PROMETHEUS_CONTENT_TYPE)
                elif self.path in ("/query",) or self.path.startswith("/admin/"):
                    self._send(405, error_body("use POST", "RequestError"))
                else:
                    self._send(404, error_body("not found", "RequestError"))

            def do_POST(self) -> None:
                try:
                    status, body = endpoint._post(self.path, self.headers, self._read)
                except RequestError as exc:
                    self.close_connection = True  # the body may be unread: no keep-alive
                    status, body = exc.status, error_body(exc.message, "RequestError")
                except (OSError, TimeoutError):
                    raise  # the client went away while sending: nobody to answer
                except Exception as exc:  # a bug, not the client's mistake: answer, log it
                    logger.exception("%s failed", self.path)
                    self.close_connection = True
                    status, body = 500, error_body(f"internal error ({type(exc).__name__}); "
                                                   "see the sink's log", "InternalError")
                self._send(status, body)

            def _read(self, length: int) -> bytes:
                try:
                    data = self.rfile.read(length)
                except TimeoutError as exc:
                    raise RequestError(408, f"the body did not arrive within "
                                            f"{READ_TIMEOUT_S:.0f}s") from exc
                if len(data) != length:
                    raise RequestError(400, f"the body ended after {len(data)} of "
                                            f"{length} bytes")
                return data

            def _refuse(self) -> None:
                self.close_connection = True
                self._send(405, error_body(f"method {self.command} is not served",
                                           "RequestError"))

            do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse  # noqa: N815

        self.token = token
        self.admin_token = admin_token
        self.health = health
        self.query = query
        self.admin = admin
        self.metrics = metrics
        self.max_body = max_body
        self._admin_lock = threading.Lock()  # one admin operation at a time
        self._server = _Server((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="store-endpoint",
                                        daemon=True)

    def _post(self, path: str, headers: Any,
              read: Callable[[int], bytes]) -> tuple[int, bytes]:
        if path == "/query":
            token = self.token
        elif path.startswith("/admin/"):
            if self.admin is None or not self.admin_token:
                raise RequestError(404, "this sink serves no admin operations (it was "
                                        "started without an admin token)")
            token = self.admin_token
        else:
            raise RequestError(404, "not found")
        if not authorised(headers.get("Authorization"), token):
            raise RequestError(401, "missing or wrong token for " + path.split("/")[1])
        if headers.get("Transfer-Encoding"):
            raise RequestError(411, "chunked bodies are not accepted; send a Content-Length")
        body = json_object(read(content_length(headers.get("Content-Length"), self.max_body)))
        try:
            if path == "/query":
                columns, rows = self.query(sql_of(body))
                return 200, json_result(columns, rows)
            with self._admin_lock:
                op = path[len("/admin/"):]
                logger.info("admin operation %s", op)
                return 200, orjson.dumps(self.admin(op, body))  # type: ignore[misc]
        except OperationalError as exc:
            return 503, error_body(str(exc), type(exc).__name__)
        except DeskpulseError as exc:
            return 400, error_body(str(exc), type(exc).__name__)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


"""The store owner's loopback endpoint: health, metrics and SQL for other processes.

chDB locks its data directory, so while the embedded stack runs only the sink
process can read the store. Other commands (``deskpulse query``, ``report``)
send their SQL here. Requests must carry the stack's token (``Authorization:
Bearer ...``), which only the owner of the data dir can read.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from deskpulse.errors import DeskpulseError

logger = logging.getLogger(__name__)

MAX_SQL_BYTES = 1 << 20


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class StoreEndpoint:
    def __init__(self, *, host: str, port: int, token: str,
                 health: Callable[[], dict[str, Any]],
                 query: Callable[[str], tuple[list[str], list[list[Any]]]],
                 metrics: Callable[[], str]) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                logger.debug("http: " + fmt, *args)

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/health":
                    body = endpoint.health()
                    self._send(200 if body.get("ready") else 503, orjson.dumps(body))
                elif self.path == "/live":  # liveness: the process answers
                    self._send(200, b'{"live": true}')
                elif self.path == "/metrics":
                    self._send(200, endpoint.metrics().encode(), "text/plain; version=0.0.4")
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                if self.path != "/query":
                    self._send(404, b'{"error": "not found"}')
                    return
                auth = self.headers.get("Authorization", "")
                if not hmac.compare_digest(auth.encode(), f"Bearer {endpoint.token}".encode()):
                    self._send(401, b'{"error": "missing or wrong token"}')
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_SQL_BYTES:
                    self._send(413, b'{"error": "request too large"}')
                    return
                try:
                    sql = orjson.loads(self.rfile.read(length))["sql"]
                    columns, rows = endpoint.query(sql)
                except DeskpulseError as exc:
                    self._send(400, orjson.dumps({"error": str(exc),
                                                  "type": type(exc).__name__}))
                    return
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    self._send(400, b'{"error": "expected a JSON body {\\"sql\\": \\"...\\"}"}')
                    return
                self._send(200, orjson.dumps({"columns": columns, "rows": rows},
                                             default=_default,
                                             option=orjson.OPT_NON_STR_KEYS))

        self.token = token
        self.health = health
        self.query = query
        self.metrics = metrics
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="store-endpoint",
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

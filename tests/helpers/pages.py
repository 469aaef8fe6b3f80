"""Local web pages that walk through themselves: /page/0 -> /page/1 -> ... -> /done."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PageChain:
    def __init__(self, count: int, dwell_s: float) -> None:
        self.count, self.hits = count, []
        self.done = threading.Event()
        chain = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                chain.hits.append(self.path)
                if self.path == "/done":
                    chain.done.set()
                    n, following = chain.count, None
                else:
                    n = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/page/") else 0
                    following = f"/page/{n + 1}" if n + 1 < chain.count else "/done"
                script = (f"<script>setTimeout(() => location.href = '{following}', "
                          f"{int(dwell_s * 1000)})</script>" if following else "")
                body = (f"<!DOCTYPE html><html><head><title>Page {n}</title></head><body>"
                        f"<h1>page {n}</h1>{script}</body></html>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def page(self, n: int) -> str:
        return f"{self.base}/page/{n}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

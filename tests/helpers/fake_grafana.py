"""A stateful stand-in for Grafana's HTTP API (the calls `grafana deploy` makes), on loopback.

It keeps folders, datasources, dashboards, teams and folder permissions, checks
the bearer token, answers 403 to writes made with the read-only token, and
records every request as ``(method, path, json body)``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "good-token"
READONLY_TOKEN = "viewer-token"


class FakeGrafana:
    def __init__(self, teams: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.permissions: dict[str, list[dict]] = {}
        self.teams = teams or {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                url = urlsplit(self.path)
                fake.calls.append((method, url.path, body))
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in (TOKEN, READONLY_TOKEN):
                    return self._reply(401, {"message": "Unauthorized"})
                if method != "GET" and token == READONLY_TOKEN:
                    return self._reply(403, {"message": "Access denied"})
                status, answer = fake.route(method, url.path, parse_qs(url.query), body)
                self._reply(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "GET"]

    def route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]  # without "api"
        missing = (404, {"message": "not found"})
        if parts[0] == "folders":
            if method == "POST" and len(parts) == 1:
                self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 1}
                return 200, self.folders[body["uid"]]
            uid = parts[1]
            if len(parts) == 3:  # permissions
                if method == "POST":
                    self.permissions[uid] = body["items"]
                    return 200, {"message": "Folder permissions updated"}
                return 200, [{**p, "inherited": False} for p in self.permissions.get(uid, [])]
            return (200, self.folders[uid]) if uid in self.folders else missing
        if parts[0] == "datasources":
            if method == "POST":
                self.datasources[body["uid"]] = {**body, "id": len(self.datasources) + 1}
                return 200, {"datasource": self.datasources[body["uid"]]}
            uid = parts[2]
            if method == "PUT":
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"]}
                return 200, {"datasource": self.datasources[uid]}
            return (200, self.datasources[uid]) if uid in self.datasources else missing
        if parts[0] == "dashboards":
            if method == "POST":
                board = body["dashboard"]
                old = self.dashboards.get(board["uid"])
                version = old["dashboard"]["version"] + 1 if old else 1
                self.dashboards[board["uid"]] = {
                    "dashboard": {**board, "id": 7, "version": version},
                    "meta": {"folderUid": body["folderUid"]}}
                return 200, {"status": "success", "uid": board["uid"], "version": version}
            uid = parts[2]
            return (200, self.dashboards[uid]) if uid in self.dashboards else missing
        if parts[0] == "teams":
            name = query.get("query", [""])[0]
            teams = [{"id": i, "name": n} for n, i in self.teams.items() if name in n]
            return 200, {"teams": teams, "perPage": 1000, "page": 1, "totalCount": len(teams)}
        return missing

"""``deskpulse grafana deploy``: folder, datasource, boards and folder permissions.

Idempotent: each object is read first and written only when it differs from
what the code generates, so a second run changes nothing (and says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

from deskpulse.core.errors import GrafanaError
from deskpulse.ops.boards.dashboards import (
    BOARDS,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_UID,
    model,
)

logger = logging.getLogger(__name__)

FOLDER_TITLE = "deskpulse"
VIEW = 1  # Grafana's folder permission level "View"
T = TypeVar("T")


@dataclass(frozen=True)
class ClickHouseConnection:
    """How Grafana reaches ClickHouse (a read-only user, see docs/clickhouse.md)."""

    host: str
    port: int = 9440
    protocol: str = "native"
    secure: bool = True
    username: str = "deskpulse_grafana"
    password: str = ""

    def datasource(self) -> dict[str, Any]:
        ds: dict[str, Any] = {
            "uid": DATASOURCE_UID, "name": "deskpulse ClickHouse", "type": DATASOURCE_TYPE,
            "access": "proxy", "isDefault": False,
            "jsonData": {"host": self.host, "port": self.port, "protocol": self.protocol,
                         "secure": self.secure, "username": self.username,
                         "defaultDatabase": "deskpulse"},
        }
        if self.password:
            ds["secureJsonData"] = {"password": self.password}
        return ds


@dataclass
class Changes:
    made: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _call(what: str, fn: Callable[[], T], url: str) -> T:
    try:
        return fn()
    except GrafanaUnauthorizedError as exc:
        raise GrafanaError(f"{what}: Grafana at {url} refused the token (401)",
                           hint="check --token (a service account token)") from exc
    except GrafanaClientError as exc:
        if exc.status_code == 403:
            raise GrafanaError(f"{what}: the token lacks the permission (403)",
                               hint="the service account needs the Admin role, or "
                                    "folders/datasources/dashboards write rights") from exc
        raise GrafanaError(f"{what}: Grafana answered {exc.status_code}: {exc.message}") from exc
    except GrafanaException as exc:
        raise GrafanaError(f"{what}: Grafana failed: {exc}") from exc
    except niquests.exceptions.RequestException as exc:
        raise GrafanaError(f"{what}: cannot reach Grafana at {url}",
                           hint="check --url (e.g. https://grafana.example.com)") from exc


def _missing(fn: Callable[[], dict]) -> dict | None:
    """``fn()``, or None when Grafana answers 404."""
    try:
        return fn()
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


def _differs(current: dict, wanted: dict) -> bool:
    return any(current.get(k) != v for k, v in wanted.items() if k != "secureJsonData")


def deploy(url: str, token: str, connection: ClickHouseConnection,
           managers_team: str | None = None, timeout: float = 15.0,
           timezone: str = "UTC") -> Changes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GrafanaError(f"--url {url!r} is not an http(s) URL")
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    changes = Changes()

    folder = _call("reading the folder", lambda: _missing(lambda: api.folder.get_folder(
        FOLDER_UID)), url)
    if folder is None:
        _call("creating the folder", lambda: api.folder.create_folder(FOLDER_TITLE,
                                                                        uid=FOLDER_UID), url)
        changes.made.append(f"folder {FOLDER_UID}")
    else:
        changes.unchanged.append(f"folder {FOLDER_UID}")

    wanted_ds = connection.datasource()
    current_ds = _call("reading the datasource", lambda: _missing(
        lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)), url)
    if current_ds is None:
        _call("creating the datasource", lambda: api.datasource.create_datasource(wanted_ds), url)
        changes.made.append(f"datasource {DATASOURCE_UID}")
    elif _differs(current_ds, wanted_ds):
        _call("updating the datasource", lambda: api.datasource.update_datasource_by_uid(
            DATASOURCE_UID, wanted_ds), url)
        changes.made.append(f"datasource {DATASOURCE_UID}")
    else:
        changes.unchanged.append(f"datasource {DATASOURCE_UID}")

    for board in BOARDS:
        wanted = model(board, timezone)
        current = _call(f"reading board {board.uid}", lambda b=board: _missing(
            lambda: api.dashboard.get_dashboard(b.uid)), url)
        same = current is not None and current.get("meta", {}).get("folderUid") == FOLDER_UID \
            and not _differs({k: v for k, v in current["dashboard"].items()
                              if k not in ("id", "version")},
                             {k: v for k, v in wanted.items() if k != "version"})
        if same:
            changes.unchanged.append(f"board {board.uid}")
            continue
        _call(f"writing board {board.uid}", lambda w=wanted: api.dashboard.update_dashboard({
            "dashboard": {**w, "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
            "message": "deskpulse grafana deploy"}), url)
        changes.made.append(f"board {board.uid}")

    if managers_team:
        _grant_view(api, url, managers_team, changes)
    return changes


def _grant_view(api: GrafanaApi, url: str, team_name: str, changes: Changes) -> None:
    found = _call("finding the managers' team", lambda: api.teams.search_teams(team_name), url)
    teams = [t for t in (found or []) if t.get("name") == team_name]
    if not teams:
        raise GrafanaError(f"no Grafana team named {team_name!r}",
                           hint="create it in Grafana (Administration > Teams) first")
    team_id = teams[0]["id"]
    current = _call("reading folder permissions",
                    lambda: api.folder.get_folder_permissions(FOLDER_UID), url)
    own = [{k: p[k] for k in ("teamId", "userId", "role", "permission") if p.get(k)}
           for p in current if not p.get("inherited")]
    if any(p.get("teamId") == team_id and p.get("permission", 0) >= VIEW for p in own):
        changes.unchanged.append(f"permission team {team_name}")
        return
    items = [p for p in own if p.get("teamId") != team_id] + [
        {"teamId": team_id, "permission": VIEW}]
    _call("setting folder permissions",
          lambda: api.folder.update_folder_permissions(FOLDER_UID, items), url)
    changes.made.append(f"permission team {team_name}")

"""`grafana deploy` against a local Grafana stand-in: exact calls, payloads, idempotence."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deskpulse.core.errors import GrafanaError
from deskpulse.ops.boards.dashboards import BOARDS, DATASOURCE_UID, FOLDER_UID, model
from deskpulse.ops.boards.deploy import ClickHouseConnection, deploy
from tests.helpers.fake_grafana import READONLY_TOKEN, TOKEN, FakeGrafana

pytestmark = pytest.mark.integration

CH = ClickHouseConnection(host="ch.example.com", password="s3cret")


def test_first_deploy_creates_everything_and_the_second_changes_nothing():
    with FakeGrafana(teams={"Managers": 12, "Managers-old": 3}) as grafana:
        first = deploy(grafana.url, TOKEN, CH, managers_team="Managers")
        assert grafana.writes() == [
            ("POST", "/api/folders", {"title": "deskpulse", "uid": FOLDER_UID}),
            ("POST", "/api/datasources", CH.datasource()),
            *[("POST", "/api/dashboards/db", {"dashboard": {**model(b), "id": None},
                                               "folderUid": FOLDER_UID, "overwrite": True,
                                               "message": "deskpulse grafana deploy"})
              for b in BOARDS],
            ("POST", f"/api/folders/{FOLDER_UID}/permissions",
             {"items": [{"teamId": 12, "permission": 1}]}),
        ]
        assert CH.datasource()["secureJsonData"] == {"password": "s3cret"}
        assert len(first.made) == 2 + len(BOARDS) + 1 and not first.unchanged

        grafana.calls.clear()
        second = deploy(grafana.url, TOKEN, CH, managers_team="Managers")
        assert grafana.writes() == [], "a second run writes nothing"
        assert second.made == [] and len(second.unchanged) == len(first.made)
        assert ("GET", f"/api/datasources/uid/{DATASOURCE_UID}", None) in grafana.calls

        moved = ClickHouseConnection(host="ch2.example.com")
        third = deploy(grafana.url, TOKEN, moved)
        assert third.made == [f"datasource {DATASOURCE_UID}"]
        assert grafana.writes()[-1] == ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}",
                                        moved.datasource())


def test_clear_errors_for_a_bad_token_missing_rights_a_wrong_url_and_an_unknown_team():
    with FakeGrafana() as grafana:
        with pytest.raises(GrafanaError, match="refused the token"):
            deploy(grafana.url, "wrong", CH)
        with pytest.raises(GrafanaError, match="lacks the permission"):
            deploy(grafana.url, READONLY_TOKEN, CH)
        with pytest.raises(GrafanaError, match="no Grafana team named 'Bosses'"):
            deploy(grafana.url, TOKEN, CH, managers_team="Bosses")
    with pytest.raises(GrafanaError, match="cannot reach Grafana"):
        deploy(grafana.url, TOKEN, CH)  # the server is gone


def test_cli_reports_changes_and_errors_without_traceback():
    cli = [sys.executable, "-m", "deskpulse.cli", "grafana", "deploy", "--clickhouse-host", "ch"]
    with FakeGrafana() as grafana:
        ok = subprocess.run([*cli, "--url", grafana.url, "--token", TOKEN], capture_output=True,
                            text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.count("updated") == 2 + len(BOARDS)
        again = subprocess.run([*cli, "--url", grafana.url, "--token", TOKEN],
                               capture_output=True, text=True, timeout=60)
        assert "nothing changed" in again.stdout
        bad = subprocess.run([*cli, "--url", grafana.url, "--token", "nope"], capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 1 and bad.stderr.startswith("GrafanaError: ")
        assert "Traceback" not in bad.stderr


def test_the_tenants_time_zone_is_pushed_into_every_board():
    with FakeGrafana() as grafana:
        deploy(grafana.url, TOKEN, CH)
        grafana.calls.clear()
        changed = deploy(grafana.url, TOKEN, CH, timezone="Europe/Berlin")
        assert changed.made == [f"board {b.uid}" for b in BOARDS]
        boards = [body["dashboard"] for method, path, body in grafana.writes()
                  if path == "/api/dashboards/db"]
        assert [b["timezone"] for b in boards] == ["Europe/Berlin"] * len(BOARDS)
        assert all({"name": "tz", "query": "Europe/Berlin"}.items() <= next(
            v for v in b["templating"]["list"] if v["name"] == "tz").items() for b in boards)
        assert deploy(grafana.url, TOKEN, CH, timezone="Europe/Berlin").made == []

import json
from pathlib import Path

import yaml

from deskpulse.ops.boards.dashboards import (
    BOARDS,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_UID,
    SCHEMA_VERSION,
    model,
)
from deskpulse.ops.boards.deploy import ClickHouseConnection
from deskpulse.ops.boards.macros import TimeRange, expand

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def test_exported_dashboards_match_the_code():
    for board in BOARDS:
        path = GRAFANA / "dashboards" / f"{board.uid}.json"
        assert json.loads(path.read_text()) == model(board), \
            f"{path.name} is stale: run deskpulse grafana export"
    assert len(list((GRAFANA / "dashboards").glob("*.json"))) == len(BOARDS)


def test_dashboards_follow_grafanas_model():
    uids = [model(b)["uid"] for b in BOARDS]
    assert len(set(uids)) == len(uids)
    for board in BOARDS:
        dash = model(board)
        assert dash["schemaVersion"] == SCHEMA_VERSION and dash["title"] and dash["time"]
        ids = [p["id"] for p in dash["panels"]]
        assert len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids)
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert variables["datasource"]["query"] == DATASOURCE_TYPE
        for panel in dash["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
            assert panel["datasource"] == {"type": DATASOURCE_TYPE, "uid": "${datasource}"}
            [target] = panel["targets"]
            assert target["datasource"] == panel["datasource"] and target["rawSql"].strip()
            for name in ("tenant", "person"):
                if f"${{{name}" in target["rawSql"]:
                    assert name in variables, (board.uid, panel["title"], name)
        for var in variables.values():
            if var["type"] == "query":
                assert var["datasource"]["uid"] == "${datasource}"


def test_provisioning_points_at_the_boards_and_the_datasource_the_code_uses():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "deskpulse.yaml").read_text())
    [source] = ds["datasources"]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, DATASOURCE_TYPE)
    wanted = ClickHouseConnection(host="x").datasource()
    assert set(source["jsonData"]) == set(wanted["jsonData"])
    assert source["jsonData"]["defaultDatabase"] == "deskpulse"
    boards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "deskpulse.yaml")
                            .read_text())
    [provider] = boards["providers"]
    assert provider["folderUid"] == FOLDER_UID and provider["type"] == "file"


def test_macro_expansion_follows_the_plugin():
    import datetime as dt
    r = TimeRange(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                  interval_s=300)
    sql = ("SELECT $__timeInterval(t) FROM x WHERE $__timeFilter(t) AND $__dateFilter(d) "
           "AND u IN (${person:singlequote}) AND tenant = '${tenant}' AND s >= $__fromTime")
    assert expand(sql, r, {"person": ["a", "o'b"], "tenant": "acme"}) == (
        "SELECT toStartOfInterval(toDateTime(t), INTERVAL 300 second) FROM x WHERE "
        "t >= toDateTime(1793491200) AND t <= toDateTime(1793577600) AND "
        "d >= toDate('2026-11-01') AND d <= toDate('2026-11-02') AND u IN ('a','o\\'b') "
        "AND tenant = 'acme' AND s >= toDateTime(1793491200)")

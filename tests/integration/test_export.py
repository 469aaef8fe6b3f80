"""Subject-access export (``deskpulse export``) on real chDB and through the embedded stack.

Two people whose logins overlap (``zoë😀`` and ``zoë``, one a prefix of the other, and
the same login in another tenant) are seeded in every table; every row a person owns
carries a marker of theirs (in the event id, the window title or the dead letter's
payload), so "nothing of another" is checked on the whole export's text.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import time

import orjson
import pytest

from deskpulse.core.errors import ConfigError
from deskpulse.core.sql import literal
from schemas.categories import Rule
from schemas.policy import DntEntry, PolicySet, Schedule, dnt_key, schedule_key
from sinks import rollup
from sinks.erase import TABLES, forget
from sinks.export import export_rows, manifest, policy_rows, render
from sinks.writer import ClickHouseWriter, ClientStore
from tests.integration.test_erasure import Letters, head

pytestmark = pytest.mark.integration

ANN, NEIGHBOUR = "zoë😀", "zoë"
HOUR = 3_600_000


def seed(chdb, tenant: str, login: str, mark: str, team: str) -> None:
    """One person's spans, rollups, dead letters and team membership, all marked ``mark``."""
    start = (int(time.time() * 1000) // HOUR - 30) * HOUR + 5 * 60_000
    spans, rollups = [], []
    for i in range(3):
        s = start + i * HOUR
        spans.append({"event_id": f"{mark}-{i}", "tenant": tenant, "user": login,
                      "host": f"pc-{mark}", "app": "code", "exe": "", "title": f"title {mark}",
                      "url": "", "domain": "", "start_ms": s, "end_ms": s + 120_000,
                      "idle": i == 2})
        rollups.append({"event_id": f"{mark}-{i}", "tenant": tenant, "user": login,
                        "host": f"pc-{mark}", "app": "code", "domain": "", "idle": i == 2,
                        "minutes": [[s // 60_000 * 60, 55_000], [s // 60_000 * 60 + 60, 65_000]]})
    writer = ClickHouseWriter(chdb)
    writer.write("deskpulse.spans_in", b"\n".join(orjson.dumps(s) for s in spans), f"s-{mark}")
    writer.write("deskpulse.rollups_in", b"\n".join(orjson.dumps(r) for r in rollups),
                 f"r-{mark}")
    letters = Letters(chdb)
    letters.worker(head(f"{mark}-dl1", tenant) + f'"user":{json.dumps(login)},"app":"x"')
    letters.worker(orjson.dumps({"event_id": f"{mark}-dl2", "tenant": tenant, "user": login,
                                 "app": 1}))
    letters.write()
    chdb.command("INSERT INTO deskpulse.team_members_store (tenant, team, user) VALUES "
                 f"({literal(tenant)}, {literal(team)}, {literal(login)})")


def policies(tenant: str) -> PolicySet:
    ps = PolicySet()
    for who, mark in ((ANN, "ann"), (NEIGHBOUR, "nb")):
        entry = DntEntry(tenant, "user", who).add(1_700_000_000_000, f"reason {mark}")
        ps.apply_dnt(dnt_key(tenant, "user", who), entry.remove(1_700_000_100_000).to_record())
        ps.apply_schedule(schedule_key(tenant, who),
                          Schedule.build("Europe/Berlin", [f"mon-fri 0{len(mark)}:00-17:00"]
                                         ).to_record())
        rule = Rule.build("app", f"app-{mark}", f"cat-{mark}", "productive", tenant=tenant,
                          team=f"team-{mark}", created_ms=1_700_000_000_000)
        ps.categories.apply(rule.key, rule.to_record())
    ps.apply_dnt(dnt_key(tenant, "host", "pc-ann"),
                 DntEntry(tenant, "host", "pc-ann").add(1_700_000_000_000, "host").to_record())
    ps.apply_schedule(schedule_key(tenant, None),
                      Schedule.build("UTC", ["mon-sun 00:00-23:59"]).to_record())
    return ps


def everything(tables) -> str:
    return json.dumps(tables, ensure_ascii=False)


def audits(chdb, tenant: str) -> list[dict]:
    rows = chdb.query("SELECT rows_exported FROM deskpulse.subject_access_audit "
                      f"WHERE tenant = '{tenant}' ORDER BY requested_at").result_rows
    return [dict(r[0]) for r in rows]


def test_an_export_holds_every_row_of_the_person_and_nothing_of_another(chdb):
    tenant = "sar1"
    seed(chdb, tenant, ANN, "ann", "team-ann")
    seed(chdb, tenant, NEIGHBOUR, "nb", "team-nb")
    seed(chdb, "sar1x", ANN, "other", "team-ann")  # the same login in another tenant
    store = ClientStore(chdb)
    rollup.refresh(store)  # the hour and day aggregates hold her rows too
    # her 3 spans: 3 hours, each the same (host, app, domain, labels); 1 or 2 UTC days
    days = int(chdb.query("SELECT uniqExact(toDate(start)) FROM deskpulse.spans_store "
                          f"WHERE tenant = '{tenant}' AND user = {literal(ANN)}"
                          ).result_rows[0][0])

    got = export_rows(store, tenant, ANN)
    tables = got["tables"]
    tables.update(policy_rows(policies(tenant), tenant, ANN, tables))

    counts = {t: len(tables[t]["rows"]) for t in TABLES}
    assert counts == {"spans_store": 3, "minutes_store": 6, "hours_agg": 3,
                      "days_agg": days,
                      "deadletter_store": 2, "team_members_store": 1}
    text = everything(tables)
    for mark in ("ann-0", "ann-1", "ann-2", "ann-dl1", "ann-dl2", "title ann", "reason ann",
                 "app-ann", "team-ann", "pc-ann", "03:00-17:00"):
        assert mark in text, mark
    # the schedules as whole periods: "02:00" alone is also her own span's hour, when the
    # test runs at 04:00-06:59 UTC (her spans begin 30 hours before)
    for foreign in ("nb-", "title nb", "reason nb", "app-nb", "team-nb", "pc-nb", "02:00-17:00",
                    "other", "sar1x"):
        assert foreign not in text, foreign
    for name in ("spans_store", "minutes_store", "hours_agg", "days_agg",
                 "team_members_store"):
        users = {r[tables[name]["columns"].index("user")] for r in tables[name]["rows"]}
        assert users == {ANN}, name
    assert [r[0] for r in tables["schedules"]["rows"]] == ["personal", "tenant default"]
    assert {(r[0], r[1]) for r in tables["do_not_track"]["rows"]} == {("user", ANN),
                                                                       ("host", "pc-ann")}
    # the numbers are those forget removes, and the request is audited without naming her
    assert audits(chdb, tenant) == [counts]
    summary = manifest(tenant, ANN, got["request_id"], tables, dt.datetime.now(dt.UTC), {})
    assert summary["rows"]["spans_store"] == 3 and summary["time_range"]["first"] is not None
    assert forget(store, tenant, ANN) == counts


def test_export_forget_export_is_empty_and_the_neighbour_keeps_everything(chdb):
    tenant = "sar2"
    seed(chdb, tenant, ANN, "ann", "team-ann")
    seed(chdb, tenant, NEIGHBOUR, "nb", "team-nb")
    store = ClientStore(chdb)
    before = export_rows(store, tenant, NEIGHBOUR)["tables"]
    assert sum(len(t["rows"]) for t in export_rows(store, tenant, ANN)["tables"].values())

    forget(store, tenant, ANN)

    after = export_rows(store, tenant, ANN)["tables"]
    assert {t: len(v["rows"]) for t, v in after.items()} == dict.fromkeys(TABLES, 0)
    assert policy_rows(PolicySet(), tenant, ANN, after)["category_rules"]["rows"] == []
    assert export_rows(store, tenant, NEIGHBOUR)["tables"] == before
    assert len(audits(chdb, tenant)) == 4


@pytest.mark.parametrize("login", ["", "  ", "x" * 256])
def test_an_export_of_nobody_is_refused_and_not_audited(chdb, login):
    with pytest.raises(ConfigError):
        export_rows(ClientStore(chdb), "sar3", login)
    assert audits(chdb, "sar3") == []


def test_csv_and_json_files_keep_unicode_quotes_and_line_breaks():
    table = {"columns": ["user", "title", "n"], "rows": [[ANN, 'a "q",\nb', 3], [NEIGHBOUR,
                                                                                 None, 0]]}
    assert json.loads(render(table, "json")) == [{"user": ANN, "title": 'a "q",\nb', "n": 3},
                                                 {"user": NEIGHBOUR, "title": None, "n": 0}]
    import csv
    import io
    assert list(csv.reader(io.StringIO(render(table, "csv")))) == [
        ["user", "title", "n"], [ANN, 'a "q",\nb', "3"], [NEIGHBOUR, "", "0"]]


# --- through the whole stack, with the CLI ------------------------------------------------

def test_the_cli_exports_forgets_and_exports_nothing_through_the_stack(stack, stack_store,
                                                                        tmp_path):
    from tests.conftest import wait_for
    from tests.integration.test_policies import dp, event, send
    tenant = "sarstack"
    start = int(time.time() * 1000) - 2 * HOUR
    send(stack, [event(tenant, who, "pc", start + i * 60_000, start + (i + 1) * 60_000,
                       f"{tenant}:{who}:{i}", title=f"t-{i}") for who in (ANN, NEIGHBOUR)
                 for i in range(4)])

    def stored() -> tuple[int, int]:  # every span, and every rollup second (any UTC day)
        spans_n = stack_store.query("SELECT count() FROM deskpulse.activity_spans "
                                    f"WHERE tenant = '{tenant}'")[1][0][0]
        seconds = stack_store.query("SELECT sum(active_seconds) FROM deskpulse.activity_daily "
                                    f"WHERE tenant = '{tenant}'")[1][0][0]
        return int(spans_n), int(seconds or 0)
    wait_for(lambda: stored() == (8, 8 * 60), 120, "the spans and rollups", 1)

    mine = dp(stack, "report", "--user", NEIGHBOUR, "--tenant", tenant)  # her own week
    assert "0.07 h active" in mine and ANN not in mine
    page = tmp_path / "me.html"
    dp(stack, "report", "--user", NEIGHBOUR, "--tenant", tenant, "--html", str(page))
    assert "Your deskpulse report" in page.read_text()

    # the policies that apply to her, through the commands an admin uses
    t = ("--tenant", tenant)
    dp(stack, "schedule", "set", "--user", ANN, "--tz", "Europe/Berlin", "--hours",
       "mon-fri 07:00-19:00", *t)
    dp(stack, "schedule", "set", "--user", NEIGHBOUR, "--tz", "Asia/Tokyo", "--hours",
       "mon-fri 09:00-17:00", *t)
    dp(stack, "team", "add", "--team", "red", "--user", ANN, *t)
    dp(stack, "team", "add", "--team", "blue", "--user", NEIGHBOUR, *t)
    dp(stack, "category", "set", "--app", "code", "--category", "dev", "--productivity",
       "productive", "--team", "red", *t)
    dp(stack, "category", "set", "--app", "code", "--category", "ops", "--productivity",
       "neutral", "--team", "blue", *t)
    dp(stack, "dnt", "add", "--user", NEIGHBOUR, "--reason", "works council", *t)

    first = tmp_path / "first"
    out = dp(stack, "export", "--user", ANN, "--tenant", tenant, "--out", str(first),
             "--format", "csv")
    assert "audited" in out
    everything = "".join(f.read_text() for f in first.iterdir())
    assert "Europe/Berlin" in everything and "07:00-19:00" in everything
    assert "red" in (first / "team_members_store.csv").read_text()
    assert "dev" in (first / "category_rules.csv").read_text()
    for foreign in ("Asia/Tokyo", "blue", "ops", "works council", f"{tenant}:{NEIGHBOUR}:"):
        assert foreign not in everything, foreign
    summary = json.loads((first / "manifest.json").read_text())
    assert summary["rows"]["spans_store"] == 4 and summary["subject"]["user"] == ANN
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(first / "spans_store.csv").st_mode) == 0o600
    spans_csv = (first / "spans_store.csv").read_text()
    assert spans_csv.count(f"{tenant}:{ANN}:") == 4 and f"{tenant}:{NEIGHBOUR}:" not in spans_csv

    dp(stack, "forget", "--user", ANN, "--tenant", tenant, "--yes")
    second = tmp_path / "second"
    dp(stack, "export", "--user", ANN, "--tenant", tenant, "--out", str(second))
    again = json.loads((second / "manifest.json").read_text())
    assert {again["rows"][t] for t in TABLES} == {0} and again["time_range"]["first"] is None
    # forget erases stored rows; her schedule stays on the policy topic until cleared
    assert again["rows"]["schedules"] == 1 and again["rows"]["category_rules"] == 0
    assert json.loads((second / "spans_store.json").read_text()) == []
    audited = stack_store.query("SELECT count() FROM deskpulse.subject_access_audit "
                                f"WHERE tenant = '{tenant}'")[1][0][0]
    assert int(audited) == 2
    # a directory with files in it is refused before anything is read or audited
    from click.testing import CliRunner

    from deskpulse.cli import cli
    result = CliRunner().invoke(cli, ["export", "--user", ANN, "--tenant", tenant, "--out",
                                      str(second), "--data-dir", stack.data_dir])
    assert result.exit_code != 0 and "ConfigError: output dir" in result.output

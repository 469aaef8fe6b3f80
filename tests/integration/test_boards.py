"""Every panel's SQL, expanded as Grafana would for a fixed range, answers right on chDB."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from deskpulse.ops.boards.dashboards import (
    BOARDS,
    FLEET,
    PERSON,
    TEAM_OVERVIEW,
    WORKING_HOURS,
    model,
)
from deskpulse.ops.boards.macros import TimeRange, expand
from tests.helpers.seed import APPS, HOUR, LABELS, PEOPLE, minutes, seed

pytestmark = pytest.mark.integration

TENANT = "t-boards"
RANGE = TimeRange(dt.datetime.fromtimestamp(HOUR - 86_400, dt.UTC),
                  dt.datetime.fromtimestamp(HOUR + 86_400, dt.UTC), interval_s=3600)
ALL = {"tenant": TENANT, "team": ["__all"], "person": list(PEOPLE)}
AT = dt.datetime.fromtimestamp(HOUR, dt.UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def data(chdb):
    seed(chdb, TENANT)
    return chdb


def run(chdb, board, title, variables=ALL, r=RANGE):
    panel = next(p for p in board.panels if p.title == title)
    return chdb.query(expand(panel.sql, r, variables)).result_rows


def hours(user: str, app: str | None = None) -> float:
    apps = [a for a, _, _ in APPS] if app is None else [app]
    return round(sum(minutes(user, a) for a in apps) / 60, 2)


def test_team_overview(data):
    people = sorted(PEOPLE, key=lambda u: -hours(u))
    assert run(data, TEAM_OVERVIEW, "Per person") == [
        (u, hours(u), 0.0, 100, "code") for u in people]
    assert run(data, TEAM_OVERVIEW, "Active vs idle hours per person per day") == [
        (str(AT.date()), u, hours(u), 0.0) for u in sorted(PEOPLE)]
    code = round(sum(minutes(u, "code") for u in PEOPLE) / 60, 2)
    web = round(sum(minutes(u, "firefox") for u in PEOPLE) / 60, 2)
    assert run(data, TEAM_OVERVIEW, "Activity by hour of day") == [(AT.hour, code),
                                                                     (AT.hour + 1, web)]
    assert run(data, TEAM_OVERVIEW, "Top applications") == [("code", code, 3), ("firefox", web, 3)]
    assert run(data, TEAM_OVERVIEW, "Top websites") == [("github.com", web, 3)]
    series = run(data, TEAM_OVERVIEW, "Active time")
    assert [(t, round(v, 2)) for t, v in series] == [
        (AT, code), (AT + dt.timedelta(hours=1), web)]
    red = {**ALL, "person": ["alice", "bob"]}
    assert [r[0] for r in run(data, TEAM_OVERVIEW, "Per person", red)] == ["bob", "alice"]


def test_team_overview_productivity(data):
    # code is labelled productive, firefox neutral (tests/helpers/seed.py)
    rows = run(data, TEAM_OVERVIEW, "Productivity per person")
    assert rows == [(u, hours(u, "code"), hours(u, "firefox"), 0.0,
                     round(100 * minutes(u, "code") / (minutes(u, "code")
                                                      + minutes(u, "firefox"))))
                    for u in sorted(PEOPLE, key=lambda u: -hours(u, "code"))]
    for person, productive, neutral, unproductive, _ in rows:
        assert round(productive + neutral + unproductive, 2) == hours(person), \
            "the classes add up to the person's active time"
    code = round(sum(minutes(u, "code") for u in PEOPLE) / 60, 2)
    web = round(sum(minutes(u, "firefox") for u in PEOPLE) / 60, 2)
    assert run(data, TEAM_OVERVIEW, "Time per category") == [
        (*LABELS["code"], code, 3), (*LABELS["firefox"], web, 3)]
    before = TimeRange(RANGE.start - dt.timedelta(days=3), RANGE.start)
    assert run(data, TEAM_OVERVIEW, "Per person", r=before) == [], "the range filters"


def test_person_drill_down(data):
    bob = {**ALL, "person": "bob"}
    timeline = run(data, PERSON, "Timeline", bob)
    assert [(r[0].replace(tzinfo=None), r[2], r[3]) for r in timeline] == [
        (AT, "code", ""), (AT + dt.timedelta(hours=1), "firefox", "github.com")]
    assert run(data, PERSON, "Time per application", bob) == [
        ("code", hours("bob", "code")), ("firefox", hours("bob", "firefox"))]
    assert run(data, PERSON, "Time per website", bob) == [("github.com", hours("bob", "firefox"))]
    assert [r[6:] for r in timeline] == [LABELS["code"], LABELS["firefox"]]
    assert run(data, PERSON, "Time per productivity class", bob) == [
        ("productive", hours("bob", "code")), ("neutral", hours("bob", "firefox"))]
    assert run(data, PERSON, "Time per category", bob) == [
        ("development", hours("bob", "code")), ("research", hours("bob", "firefox"))]


def test_working_hours(data):
    rows = run(data, WORKING_HOURS, "In-schedule activity per person per day")
    assert [(r[0], r[1], r[2], r[3][:19]) for r in rows] == [
        (str(AT.date()), u, hours(u), f"{AT:%Y-%m-%d %H:%M:%S}") for u in sorted(PEOPLE)]
    assert run(data, WORKING_HOURS, "Active hours per weekday") == [
        (AT.isoweekday(), round(sum(hours(u) for u in PEOPLE), 2))]
    assert run(data, WORKING_HOURS, "Days with activity per person") == [
        (u, 1) for u in sorted(PEOPLE)]


def test_fleet_health(data):
    collectors = run(data, FLEET, "Collectors last seen")
    assert sorted(r[0] for r in collectors) == sorted(f"{u}-pc" for u in PEOPLE)
    assert run(data, FLEET, "Spans per interval") == [(AT, 3), (AT + dt.timedelta(hours=1), 3)]
    assert run(data, FLEET, "Dead letters per reason") == [("bad_format", 3)]
    now = dt.datetime.now(dt.UTC)
    recent = TimeRange(now - dt.timedelta(hours=1), now + dt.timedelta(minutes=5), 7200)
    [(_, p50, p99)] = run(data, FLEET, "Pipeline delay (span end to stored), p50 / p99",
                          r=recent)
    ends = sorted(HOUR + 3600 * i + 60 * per * (n + 1) for n in range(3)
                  for i, (_, _, per) in enumerate(APPS))
    delays = sorted(time.time() - e for e in ends)
    expected = delays[len(delays) // 2]  # quantileExact(0.5): the element at floor(n / 2)
    assert abs(p50 - expected) < 600 and p99 >= p50


def test_person_variable_follows_the_team_filter(data):
    var = next(v for v in model(TEAM_OVERVIEW)["templating"]["list"] if v["name"] == "person")

    def people(team):
        sql = expand(var["query"], RANGE, {"tenant": TENANT, "team": team})
        return [r[0] for r in data.query(sql).result_rows]
    assert people(["red"]) == ["alice", "bob"]
    assert people(["blue"]) == ["dave"]
    assert people(["__all"]) == sorted(PEOPLE)


def test_every_panel_of_every_board_runs(data):
    for board in BOARDS:
        variables = {**ALL, "person": "bob"} if board.single_person else ALL
        for panel in board.panels:
            assert isinstance(run(data, board, panel.title, variables), list), panel.title

"""`deskpulse report --team T --user U --from D --to D` and the tenant's time zone, on chDB.

The known dataset (tests/helpers/seed.py): alice and bob in team red, dave in blue; each
has a ``code`` span at 11:00 UTC on 2026-11-18 and a ``firefox`` span an hour later. The
filters must leave exactly the people and days asked for, with the numbers of the
unfiltered report; the hours of the day and the first and last activity move with the
zone; a day range in a zone far east of UTC takes the UTC morning into the next day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from deskpulse.ops.myreport import collect_person, period_text, render_person_text
from deskpulse.ops.report import collect, period, render_text
from sinks.writer import ClientStore
from tests.helpers.seed import HOUR, PEOPLE, minutes, seed

pytestmark = pytest.mark.integration

TENANT = "t-filters"
DAY = dt.datetime.fromtimestamp(HOUR, dt.UTC).date()  # 2026-11-18, HOUR is 11:00 UTC
NOW = dt.datetime.fromtimestamp(HOUR + 5 * 86_400, dt.UTC)


@pytest.fixture(scope="module")
def store(chdb):
    seed(chdb, TENANT)
    return ClientStore(chdb)


def report(store, first=DAY, last=DAY, timezone="UTC", **filters):
    start, end = period(7, first, last, timezone, NOW)
    return collect(store, TENANT, end=end, start=start, timezone=timezone, **filters)


def test_a_team_leaves_its_members_with_the_numbers_of_the_whole_report(store):
    everybody = report(store)
    red = report(store, teams=["red"])
    assert [p[0] for p in red.people] == ["bob", "alice"]
    assert red.people == [p for p in everybody.people if p[0] in ("alice", "bob")]
    assert red.daily == [d for d in everybody.daily if d[1] in ("alice", "bob")]
    assert {a: h for a, h, _ in red.apps} == {
        app: round(sum(minutes(u, app) for u in ("alice", "bob")) / 60, 2)
        for app in ("code", "firefox")}
    assert red.deadletters == [] and everybody.deadletters != []
    text = render_text(red)
    assert "team red" in text and "dave" not in text
    assert [p[0] for p in report(store, teams=["blue", "red"]).people] == ["dave", "bob", "alice"]


def test_people_are_narrowed_by_login_and_by_team_together(store):
    assert [p[0] for p in report(store, users=["alice", "dave"]).people] == ["dave", "alice"]
    assert [p[0] for p in report(store, teams=["red"], users=["alice", "dave"]).people] == \
        ["alice"]
    nobody = report(store, teams=["blue"], users=["alice"])
    assert nobody.people == [] and nobody.apps == [] and nobody.first is None
    assert report(store, teams=["no-such-team"]).people == []
    assert "No activity recorded" in render_text(nobody)


def test_a_day_range_holds_its_days_only(store):
    assert report(store, DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=1)).people == []
    assert report(store, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)).people == []
    assert len(report(store, DAY, DAY).people) == len(PEOPLE)


def test_the_days_are_the_tenants_days(store):
    # 11:00 UTC on the 18th is 01:00 on the 19th in Kiritimati (UTC+14)
    east = "Pacific/Kiritimati"
    assert report(store, DAY, DAY, east).people == []
    next_day = report(store, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1), east)
    assert len(next_day.people) == len(PEOPLE)
    assert next_day.first == f"{DAY + dt.timedelta(days=1)} 01:00:00"


@pytest.mark.parametrize(("zone", "shift"), [("UTC", 0), ("Asia/Tokyo", 9),
                                             ("America/New_York", -5), ("Asia/Kolkata", 5)])
def test_hours_of_the_day_and_first_and_last_activity_are_in_the_zone(store, zone, shift):
    data = report(store, DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1), zone)
    utc = report(store, DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1), "UTC")
    assert {int(h) for h, _ in utc.by_hour} == {11, 12}
    assert {(int(h) - shift) % 24: v for h, v in data.by_hour} == {int(h): v for h, v in
                                                                  utc.by_hour}
    local = dt.datetime.fromtimestamp(HOUR, dt.UTC).astimezone(__import__("zoneinfo")
                                                                .ZoneInfo(zone))
    assert data.first == f"{local:%Y-%m-%d %H:%M:%S}"
    assert data.people == utc.people, "the zone moves times, never the numbers"
    assert f"({zone})" in render_text(data)


def test_a_persons_report_shows_its_period_in_the_zone(store):
    start, end = period(7, DAY, DAY, "Asia/Tokyo", NOW)
    mine = collect_person(store, TENANT, "bob", end=end, start=start, timezone="Asia/Tokyo")
    assert period_text(mine) == f"{DAY} 00:00 to {DAY} 23:59 (Asia/Tokyo)"
    assert float(mine.totals[0]) == round((minutes("bob", "code") + minutes("bob", "firefox"))
                                          / 60, 2)
    assert "(Asia/Tokyo)" in render_person_text(mine)

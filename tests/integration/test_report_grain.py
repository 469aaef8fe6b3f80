"""`deskpulse report` gives the board's numbers and the minutes' numbers, with hours dirty.

The report reads its sections in two queries of GROUPING SETS (one over the range's days,
hours and edge minutes, one over activity_daily) and the hour-of-day panel's query,
instead of one query per panel. Here,
for ranges aligned on days, cut inside hours and across midnight, with every hour dirty,
with one hour written again after a refresh (dirty: read from the minutes) and refreshed,
every section equals (1) the team overview's panel run on its own and (2) the same
question asked of ``activity_minutes`` alone.
"""

from __future__ import annotations

import datetime as dt

import pytest

from deskpulse.ops.boards.dashboards import TEAM_OVERVIEW
from deskpulse.ops.boards.macros import TimeRange, expand
from deskpulse.ops.report import collect
from sinks import rollup
from sinks.writer import ClientStore
from tests.integration.test_boards_grain import RANGES, REFERENCE, at
from tests.integration.test_rollups import DAY0, records, write

pytestmark = pytest.mark.integration

TENANT = "t-report-grain"
USERS = ["user0", "user1", "user2"]
P = f"tenant = '{TENANT}' AND user IN ('user0','user1','user2')"
CLASSES = [("development", "productive"), ("chat", "neutral"), ("games", "unproductive"),
           ("research", "neutral")]

#: the daily sections asked of the minutes alone, over the days of $__dateFilter
DAILY_REFERENCE = {
    "productivity": f"""
WITH toDate(minute) AS day
SELECT user, round(sumIf(active_seconds, productivity = 'productive') / 3600, 2) AS p,
       round(sumIf(active_seconds, productivity = 'neutral') / 3600, 2),
       round(sumIf(active_seconds, productivity = 'unproductive') / 3600, 2),
       toUInt8(round(100 * sumIf(active_seconds, productivity = 'productive')
                     / greatest(sum(active_seconds), 1)))
FROM deskpulse.activity_minutes WHERE $__dateFilter(day) AND {P}
GROUP BY user ORDER BY p DESC, user""",
    "categories": f"""
WITH toDate(minute) AS day
SELECT category, productivity, round(sum(active_seconds) / 3600, 2) AS h, uniqExact(user)
FROM deskpulse.activity_minutes
WHERE $__dateFilter(day) AND {P} AND active_seconds > 0
GROUP BY category, productivity ORDER BY h DESC, category""",
    "daily": f"""
WITH toDate(minute) AS day
SELECT toString(day) AS d, user, round(sum(active_seconds) / 3600, 2),
       round(sum(idle_seconds) / 3600, 2)
FROM deskpulse.activity_minutes WHERE $__dateFilter(day) AND {P}
GROUP BY d, user ORDER BY d, user""",
    # the hours that start in the range, by their hour of the day
    "by_hour": f"""
SELECT toHour(minute, 'UTC') AS h, round(sum(active_seconds) / 3600, 2)
FROM deskpulse.activity_minutes
WHERE toStartOfHour(minute) >= $__fromTime AND toStartOfHour(minute) <= $__toTime AND {P}
GROUP BY h ORDER BY h""",
}
PANELS = {"people": "Per person", "productivity": "Productivity per person",
          "categories": "Time per category",
          "daily": "Active vs idle hours per person per day",
          "by_hour": "Activity by hour of day", "apps": "Top applications",
          "domains": "Top websites"}


def varied() -> list[dict]:
    """The rollup tests' records (23:30 on day 0 to 04:30 on day 1), again a day later."""
    recs = records(TENANT)
    recs += [{**r, "event_id": r["event_id"] + "-next",
              "minutes": [[m + 86400, ms] for m, ms in r["minutes"]]} for r in records(TENANT)]
    for n, r in enumerate(recs):
        # idle spans in a category of their own: no active time, so not in "Time per category"
        r["category"], r["productivity"] = (("away", "neutral") if r["idle"]
                                            else CLASSES[n % len(CLASSES)])
        r["app"] = ["code", "firefox", "slack", "chrome", "zoom"][n % 5]
        r["domain"] = ["", "github.com", "", "docs.example", ""][n % 5]
    return recs


@pytest.fixture(scope="module")
def data(chdb):
    write(chdb, varied(), "report-grain")
    return chdb


def rows(chdb, sql: str, r: TimeRange, variables: dict | None = None) -> list[list]:
    return [list(x) for x in chdb.query(expand(sql, r, variables)).result_rows]


#: the first day the range touches holds time only before its start: the first minute is
#: on the second of three; and a range of minutes only
MORE_RANGES = {"starting after the first day's last minute": (DAY0 + 86400 - 30,
                                                               DAY0 + 2 * 86400 + 4 * 3600),
               "two minutes": (DAY0 + 86400 + 3600 + 30, DAY0 + 86400 + 3600 + 150)}


def check(chdb, state: str) -> None:
    store = ClientStore(chdb)
    for name, (start, end) in {**RANGES, **MORE_RANGES}.items():
        r = TimeRange(at(start), at(end), interval_s=3600)
        data = collect(store, TENANT, start=r.start, end=r.end)
        where = (state, name)
        # the people with time in the range (checked below), as the board's person variable
        people = sorted(p[0] for p in data.people)
        variables = {"tenant": TENANT, "team": ["__all"], "person": people, "tz": "UTC"}
        chosen = f"tenant = '{TENANT}' AND user IN (" + (
            ",".join(f"'{u}'" for u in people) or "''") + ")"
        for field, title in PANELS.items():
            panel = next(p for p in TEAM_OVERVIEW.panels if p.title == title).sql
            assert getattr(data, field) == rows(chdb, panel, r, variables), (*where, field)
        for field, title in (("people", "Per person"), ("apps", "Top applications"),
                             ("domains", "Top websites")):
            assert getattr(data, field) == rows(chdb, REFERENCE[title].format(p=P), r), \
                (*where, field)
        for field, sql in DAILY_REFERENCE.items():
            assert getattr(data, field) == rows(chdb, sql.replace(P, chosen), r), (*where, field)
        first, last, n = rows(chdb, "SELECT toString(min(minute), 'UTC'), toString(max("
                              "minute), 'UTC'), count() FROM deskpulse.activity_minutes "
                              f"WHERE $__timeFilter(minute) AND {P}", r)[0]
        assert (data.first, data.last) == ((first, last) if n else (None, None)), where
        assert people == [u for (u,) in rows(
            chdb, f"SELECT DISTINCT user FROM deskpulse.activity_minutes WHERE "
            f"$__timeFilter(minute) AND {P} ORDER BY user", r)], where
    # not empty where it matters: every section has rows for the data's two days
    whole = collect(store, TENANT, start=at(DAY0), end=at(DAY0 + 4 * 86400))
    assert len(whole.people) == 3 and whole.domains and len(whole.categories) == 4
    assert {d[0] for d in whole.daily} == {str(at(DAY0 + n * 86400).date()) for n in range(3)}


def dirty_hours(chdb) -> int:
    return chdb.query("SELECT count() FROM deskpulse.rollup_dirty WHERE tenant = "
                      f"'{TENANT}'").result_rows[0][0]


def test_every_section_is_the_boards_and_the_minutes_with_every_hour_dirty(data):
    assert dirty_hours(data) > 3
    check(data, "all dirty")


def test_every_section_is_the_boards_and_the_minutes_with_an_hour_dirty(data):
    rollup.refresh(ClientStore(data))
    assert dirty_hours(data) == 0
    check(data, "refreshed")
    # the spans starting in the hour from 00:00 on day 1 written again (a replay): their
    # hours only are dirty (that one and the next, which some of them reach)
    hour = DAY0 + 86400
    again = [r for r in varied() if hour <= r["minutes"][0][0] < hour + 3600]
    write(data, again, "report-grain-replay")
    touched = sorted({m - m % 3600 for r in again for m, _ in r["minutes"]})
    assert touched == [hour, hour + 3600]
    assert sorted(data.query("SELECT groupUniqArray(toUnixTimestamp(hour)) FROM "
                             f"deskpulse.rollup_dirty WHERE tenant = '{TENANT}'"
                             ).result_rows[0][0]) == touched
    check(data, "one hour dirty")
    rollup.refresh(ClientStore(data))
    assert dirty_hours(data) == 0
    check(data, "refreshed again")


def test_a_team_or_login_filter_keeps_the_sections_of_the_people_left(data):
    store = ClientStore(data)
    start, end = at(DAY0), at(DAY0 + 3 * 86400)
    everybody = collect(store, TENANT, start=start, end=end)
    one = collect(store, TENANT, start=start, end=end, users=["user1", "nobody"])
    assert [p[0] for p in one.people] == ["user1"]
    assert one.people == [p for p in everybody.people if p[0] == "user1"]
    assert one.productivity == [p for p in everybody.productivity if p[0] == "user1"]
    assert one.daily == [d for d in everybody.daily if d[1] == "user1"]
    assert all(n == 1 for *_, n in one.apps) and one.apps
    assert collect(store, TENANT, start=start, end=end, users=["nobody"]).people == []


def test_the_range_is_the_tenants(data):
    # nothing but the data's tenant is read: another tenant's range is empty
    empty = collect(ClientStore(data), "t-nobody", start=at(DAY0), end=at(DAY0 + 2 * 86400))
    assert empty.people == [] and empty.apps == [] and empty.daily == [] and empty.first is None
    assert dt.timedelta(0) < empty.end - empty.start


def test_hours_are_divided_from_exact_milliseconds(data):
    # one person, 1,260 hosts, 100 ms each in one minute: 126 s = 0.035 h, which rounds to
    # 0.04; summed as floats (0.1 s x 1,260) it is 125.99999999999979 s and rounds to 0.03
    tenant, minute = "t-report-ms", DAY0 + 10 * 86400 + 3600
    write(data, [{"event_id": f"ms{k}", "tenant": tenant, "user": "tiny", "host": f"h{k}",
                  "app": "code", "domain": "", "idle": False, "category": "development",
                  "productivity": "productive", "minutes": [[minute, 100]]}
                 for k in range(1260)], "report-ms")
    rollup.refresh(ClientStore(data))
    floats = data.query("SELECT sum(active_seconds) FROM deskpulse.activity_daily WHERE "
                        f"tenant = '{tenant}'").result_rows[0][0]
    assert floats != 126.0, "the float sum is off: the test shows the difference"
    day = at(minute - 3600)
    got = collect(ClientStore(data), tenant, start=day, end=day + dt.timedelta(days=1))
    assert got.people == [["tiny", 0.04, 0.0, 100, "code"]]
    assert got.productivity == [["tiny", 0.04, 0.0, 0.0, 100]]
    assert got.daily == [[str(day.date()), "tiny", 0.04, 0.0]]
    assert got.categories == [["development", "productive", 0.04, 1]]
    assert got.apps == [["code", 0.04, 1]] and got.by_hour == [[1, 0.04]]

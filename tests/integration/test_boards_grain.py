"""Panels that read the coarsest rollup answer exactly what the minutes answer, for any range.

The team overview's and the person board's panels read whole days from
``activity_daily``, whole hours from ``activity_hourly`` and only the edge minutes from
``activity_minutes`` (``deskpulse.ops.boards.dashboards.by_grain``). Here each of them runs
against the same question asked of ``activity_minutes`` alone, for ranges aligned on
days, cut inside hours, inside one hour, and across midnight, with the aggregates
refreshed and with every hour dirty (read from the minutes).
"""

from __future__ import annotations

import datetime as dt

import pytest

from deskpulse.ops.boards.dashboards import PERSON, TEAM_OVERVIEW
from deskpulse.ops.boards.macros import TimeRange, expand
from sinks import rollup
from sinks.writer import ClientStore
from tests.integration.test_rollups import DAY0, records, write

pytestmark = pytest.mark.integration

TENANT = "t-grain"
PEOPLE = {"tenant": TENANT, "team": ["__all"], "person": ["user0", "user1", "user2"]}
ONE = {"tenant": TENANT, "team": ["__all"], "person": "user1"}


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


# the data: 23:30 on day 0 to about 04:30 on day 1 (UTC)
RANGES = {
    "whole days": (DAY0, DAY0 + 3 * 86400),
    "a whole day and cut edges": (DAY0 + 86400 - 3000 + 30, DAY0 + 2 * 86400 + 3 * 3600 + 1234),
    "cut inside hours": (DAY0 + 86400 - 3000 + 30, DAY0 + 86400 + 3 * 3600 + 1234),
    "ending just before an hour": (DAY0 + 86400 - 1234, DAY0 + 86400 + 2 * 3600 - 600),
    "starting just after an hour": (DAY0 + 86400 + 300, DAY0 + 86400 + 4 * 3600),
    "a day ending before midnight": (DAY0, DAY0 + 86400 - 600),
    "inside one hour": (DAY0 + 86400 - 1500, DAY0 + 86400 - 600),
    "across midnight": (DAY0 + 86400 - 3600, DAY0 + 86400 + 3600),
    "ending on a minute": (DAY0 + 86400 - 1800, DAY0 + 86400 + 7140),
}

#: the same questions asked of the minutes alone
REFERENCE = {
    "Per person": """
SELECT user AS person, round(sum(a) / 3600, 2), round(sum(i) / 3600, 2),
       toUInt8(round(100 * sum(a) / greatest(sum(a + i), 1))), argMax(app, a)
FROM (SELECT user, app, sum(active_seconds) AS a, sum(idle_seconds) AS i
      FROM deskpulse.activity_minutes WHERE $__timeFilter(minute) AND {p} GROUP BY user, app)
GROUP BY user ORDER BY 2 DESC, person""",
    "Top applications": """
SELECT app, round(sum(active_seconds) / 3600, 2) AS hours, uniqExact(user)
FROM deskpulse.activity_minutes WHERE $__timeFilter(minute) AND {p}
GROUP BY app ORDER BY hours DESC, app LIMIT 10""",
    "Top websites": """
SELECT domain, round(sum(active_seconds) / 3600, 2) AS hours, uniqExact(user)
FROM deskpulse.activity_minutes WHERE $__timeFilter(minute) AND {p} AND domain != ''
GROUP BY domain ORDER BY hours DESC, domain LIMIT 10""",
    "Active time": """
SELECT $__timeInterval(minute) AS time, round(sum(active_seconds) / 3600, 3)
FROM deskpulse.activity_minutes WHERE $__timeFilter(minute) AND {p}
GROUP BY time ORDER BY time""",
}
PERSON_REFERENCE = {
    "Time per application": ("app", ""),
    "Time per website": ("domain", " AND domain != ''"),
    "Time per productivity class": ("productivity", " AND active_seconds > 0"),
    "Time per category": ("category", " AND active_seconds > 0"),
}
PEOPLE_SQL = f"tenant = '{TENANT}' AND user IN ('user0','user1','user2')"
ONE_SQL = f"tenant = '{TENANT}' AND user = 'user1'"


@pytest.fixture(scope="module")
def data(chdb):
    write(chdb, records(TENANT), "grain")
    return chdb


def panel_sql(board, title: str) -> str:
    return next(p for p in board.panels if p.title == title).sql


@pytest.mark.parametrize("refreshed", [False, True], ids=["dirty", "refreshed"])
def test_every_range_gives_the_minutes_answer(data, refreshed):
    if refreshed:
        rollup.refresh(ClientStore(data))
    assert (data.query("SELECT count() FROM deskpulse.rollup_dirty WHERE tenant = "
                       f"'{TENANT}'").result_rows[0][0] == 0) is refreshed
    for name, (start, end) in RANGES.items():
        for interval in (3600, 300):
            r = TimeRange(at(start), at(end), interval_s=interval)
            for title, ref in REFERENCE.items():
                got = data.query(expand(panel_sql(TEAM_OVERVIEW, title), r, PEOPLE)).result_rows
                want = data.query(expand(ref.format(p=PEOPLE_SQL), r)).result_rows
                assert [list(g) for g in got] == [list(w) for w in want], (name, interval, title)
            for title, (col, extra) in PERSON_REFERENCE.items():
                got = data.query(expand(panel_sql(PERSON, title), r, ONE)).result_rows
                want = data.query(expand(
                    f"SELECT {col}, round(sum(active_seconds) / 3600, 2) AS hours "
                    f"FROM deskpulse.activity_minutes WHERE $__timeFilter(minute) AND {ONE_SQL}"
                    f"{extra} GROUP BY {col} ORDER BY hours DESC, {col}", r)).result_rows
                assert got == want, (name, title)
    # the data is not empty where it matters
    r = TimeRange(at(RANGES["cut inside hours"][0]), at(RANGES["cut inside hours"][1]), 3600)
    assert data.query(expand(panel_sql(TEAM_OVERVIEW, "Per person"), r, PEOPLE)).result_rows

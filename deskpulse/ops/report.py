"""The managers' summary: the team overview board's numbers, in a terminal or as HTML.

The numbers are the Grafana team overview's (:mod:`deskpulse.ops.boards.dashboards`),
for a period (the last ``days`` days, or whole days ``--from``/``--to`` in the tenant's
time zone) and the people asked for: everybody active in the tenant, narrowed to teams
(their members as the boards' person variable finds them, from the policy topic's team
lists) and to logins. The sections that read the same rows are asked in one query of
GROUPING SETS, each set with its panel's expressions (summed in exact milliseconds, so
every run gives the same hours: sums of float seconds can round an hour lying on the
edge of 0.005 either way, by the order of the sums): the per-person, application
and website sections over the range's grains (``by_grain``), and the productivity,
category and per-day sections over ``activity_daily``; the hour-of-day section is its
panel's question, in milliseconds too. Three reads of the rollups instead of eight:
an hour not yet refreshed is read from the minutes (the views' FINAL) three times per
report, not once per section. tests/integration/test_report_grain.py checks every
section against its panel and against the minutes alone, with hours dirty and
refreshed. Every time of day (the period, first and last activity, the hour of day) is
in the tenant's time zone; days are the rollups' UTC days.

Names, apps and sites are data from desktops: the terminal report prints them
through :func:`deskpulse.core.output.printable` (no escape sequence reaches the
terminal); the HTML page (:mod:`deskpulse.ops.charts`: no script, labels that wrap in
their own column, a legend and a unit on every chart) shows them the same way,
HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deskpulse.core.errors import ConfigError
from deskpulse.core.output import printable, table
from deskpulse.core.sql import SqlStore, literal
from deskpulse.ops import charts
from deskpulse.ops.boards.dashboards import (
    FLEET,
    PEOPLE,
    Board,
    by_grain,
    variable,
)
from deskpulse.ops.boards.macros import TimeRange, expand


def period(days: int, first: dt.date | None, last: dt.date | None, timezone: str,
           now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The report's range: whole days ``first``..``last`` in ``timezone`` (either may be
    missing: ``last`` is today, ``first`` is ``days`` days before it), or, with neither,
    the last ``days`` days up to ``now``. Pure."""
    if first is None and last is None:
        return now - dt.timedelta(days=days), now
    zone = zoneinfo.ZoneInfo(timezone)
    last = last or now.astimezone(zone).date()
    first = first or last - dt.timedelta(days=days - 1)
    if first > last:
        raise ConfigError(f"--from {first} is after --to {last}")
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), (end - dt.timedelta(seconds=1)).astimezone(dt.UTC)


@dataclass(frozen=True)
class ReportData:
    tenant: str
    days: int
    first: str | None  # first and last active minute, in ``timezone``
    last: str | None
    people: list[list[Any]]   # person, active h, idle h, active %, top app
    productivity: list[list[Any]]  # person, productive h, neutral h, unproductive h, prod. %
    categories: list[list[Any]]    # category, productivity, hours, people
    daily: list[list[Any]]    # day (UTC), person, active h, idle h
    by_hour: list[list[Any]]  # hour of day (in ``timezone``), active h
    apps: list[list[Any]]     # app, hours, people
    domains: list[list[Any]]  # domain, hours, people
    deadletters: list[list[Any]]  # reason, count (none with a team or person filter)
    timezone: str = "UTC"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    teams: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


def _panel(store: SqlStore, board: Board, title: str, r: TimeRange,
           variables: dict[str, Any]) -> list[list[Any]]:
    panel = next(p for p in board.panels if p.title == title)
    return [list(row) for row in store.query(expand(panel.sql, r, variables))[1]]


def team_members(store: SqlStore, tenant: str, teams: Sequence[str], r: TimeRange) -> set[str]:
    """The people of ``teams``, found by the boards' own person variable."""
    _, rows = store.query(expand(variable("person")["query"], r,
                                 {"tenant": tenant, "team": list(teams)}))
    return {row[0] for row in rows}


#: the views' seconds as the milliseconds they were (exact integers, whatever the order
#: of the sums: the same totals on every run, where sums of floats can round an hour on
#: the edge of 0.005 either way); hours and shares are divided from them once
_MS = ("toUInt64(round(active_seconds * 1000)) AS a, "
       "toUInt64(round(idle_seconds * 1000)) AS i")

#: "Activity by hour of day" (the hours starting in the range, by hour of the day in the
#: tenant's zone), in milliseconds as the sections above
_BY_HOUR = f"""
SELECT toHour(hour, '${{tz}}') AS hour_of_day, round(sum(a) / 3600000, 2)
FROM (SELECT hour, {_MS} FROM deskpulse.activity_hourly
      WHERE $__timeFilter(hour) AND {PEOPLE})
GROUP BY hour_of_day
ORDER BY hour_of_day"""

#: the team overview's sections over ``by_grain`` (the range split into days, hours and
#: edge minutes), all in one query: "Per person" (per person and app, then per person),
#: "Top applications" (per app) and "Top websites" (per site). One read of the rollups
#: serves the three (GROUPING SETS): an hour not yet refreshed is read from the minutes
#: once, not once per section. Each set's numbers are the panels' own expressions over
#: the same rows (grouping(): 0 for a column of the set, 1 for the others).
_BY_GRAIN_SECTIONS = """
SELECT g, multiIf(g = 1, user, g = 5, app, domain) AS k,
       round(sum(a) / 3600000, 2), round(sum(i) / 3600000, 2),
       toUInt8(round(100 * sum(a) / greatest(sum(a + i), 1000))), argMax(app, a), any(people)
FROM (SELECT grouping(user, app, domain) AS g, user, app, domain,
             sum(toUInt64(round(active_seconds * 1000))) AS a,
             sum(toUInt64(round(idle_seconds * 1000))) AS i, uniqExact(user) AS people
      FROM {source}
      GROUP BY GROUPING SETS ((user, app), (app), (domain)))
WHERE g != 6 OR domain != ''
GROUP BY g, k"""
_PER_PERSON, _PER_APP, _PER_DOMAIN = 1, 5, 6

#: "Productivity per person", "Time per category" and "Active vs idle hours per person per
#: day", from one read of activity_daily (the three panels read the same rows): per person
#: (g = 11), per category and class (g = 12; the panel counts rows with active time only:
#: the ``If`` aggregates) and per day and person (g = 3)
_DAILY_SECTIONS = f"""
SELECT grouping(day, user, category, productivity) AS g, toString(day), user, category,
       productivity,
       round(sumIf(a, productivity = 'productive') / 3600000, 2),
       round(sumIf(a, productivity = 'neutral') / 3600000, 2),
       round(sumIf(a, productivity = 'unproductive') / 3600000, 2),
       toUInt8(round(100 * sumIf(a, productivity = 'productive') / greatest(sum(a), 1000))),
       round(sum(a) / 3600000, 2), round(sum(i) / 3600000, 2),
       uniqExactIf(user, a > 0), countIf(a > 0)
FROM (SELECT day, user, category, productivity, {_MS}
      FROM deskpulse.activity_daily
      WHERE $__dateFilter(day) AND {PEOPLE})
GROUP BY GROUPING SETS ((user), (category, productivity), (day, user))"""
_DAY_PERSON, _PERSON, _CATEGORY = 3, 11, 12


def _by_grain_sections(store: SqlStore, r: TimeRange, where: str) -> tuple[
        list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Per person (person, active h, idle h, active %, top app), top applications and top
    websites (name, hours, people; 10 each), ordered as the panels order them."""
    _, rows = store.query(expand(_BY_GRAIN_SECTIONS.format(
        source=by_grain("user, app, domain", where)), r))
    people = sorted(([k, a, i, pct, top] for g, k, a, i, pct, top, _ in rows
                     if g == _PER_PERSON), key=lambda x: (-x[1], x[0]))
    apps = sorted(([k, a, n] for g, k, a, _, _, _, n in rows if g == _PER_APP),
                  key=lambda x: (-x[1], x[0]))[:10]
    domains = sorted(([k, a, n] for g, k, a, _, _, _, n in rows if g == _PER_DOMAIN),
                     key=lambda x: (-x[1], x[0]))[:10]
    return people, apps, domains


def _daily_sections(store: SqlStore, r: TimeRange, variables: dict[str, Any]) -> tuple[
        list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Productivity per person, time per category, and per day and person, ordered as the
    panels order them."""
    _, rows = store.query(expand(_DAILY_SECTIONS, r, variables))
    sets: dict[int, list[Any]] = {_PERSON: [], _CATEGORY: [], _DAY_PERSON: []}
    for row in rows:  # one pass (a row per person and day: tens of thousands)
        sets[row[0]].append(row)
    # columns: g, day, user, category, productivity, productive h, neutral h,
    # unproductive h, productive %, active h, idle h, people, rows with active time
    productivity = sorted(([x[2], x[5], x[6], x[7], x[8]] for x in sets[_PERSON]),
                          key=lambda x: (-x[1], x[0]))
    categories = sorted(([x[3], x[4], x[9], x[11]] for x in sets[_CATEGORY] if x[12] > 0),
                        key=lambda x: (-x[2], x[0]))
    daily = [[x[1], x[2], x[9], x[10]] for x in sets[_DAY_PERSON]]
    daily.sort()  # by day, then person (each pair once)
    return productivity, categories, daily


def _first_last(store: SqlStore, r: TimeRange, variables: dict[str, Any],
                days: list[str]) -> tuple[str | None, str | None]:
    """The first and last minute with time in the range (in ``${tz}``), read from the
    minutes of four UTC days only: ``days`` are those with time of the people on the
    days the range touches (the daily sections; every minute row holds time, so its day
    is there). Only the first of them can hold time before the range's start, and only
    the last time after its end, so the first minute in the range is on the first or
    the second day, the last on the last or the one before (one query, min and max of
    the minutes of those days inside the range; a row written twice has the same
    minute, so no FINAL is needed)."""
    edge = sorted(set(days))
    if not edge:
        return None, None
    windows = " OR ".join(
        f"(minute >= toDateTime('{d} 00:00:00', 'UTC') AND "
        f"minute < toDateTime('{d} 00:00:00', 'UTC') + INTERVAL 1 DAY)"
        for d in sorted(set(edge[:2] + edge[-2:])))
    _, span = store.query(expand(
        "SELECT toString(min(minute), '${tz}'), toString(max(minute), '${tz}'), count() "
        "FROM deskpulse.minutes_store WHERE $__timeFilter(minute) AND tenant = '${tenant}' "
        f"AND user IN (${{person:singlequote}}) AND ({windows})", r, variables))
    first, last, rows = span[0]
    return (first, last) if rows else (None, None)


def collect(store: SqlStore, tenant: str, days: int = 7,
            end: dt.datetime | None = None, *, start: dt.datetime | None = None,
            timezone: str = "UTC", teams: Sequence[str] = (),
            users: Sequence[str] = ()) -> ReportData:
    """The board's numbers from ``start`` (default: ``days`` before ``end``) to ``end``
    (default: now) for the tenant's active people, narrowed to ``teams`` and ``users``.

    Five queries: the sections over the range's grains (:data:`_BY_GRAIN_SECTIONS`, which
    also names the people), the sections over whole days (:data:`_DAILY_SECTIONS`), the
    first and last minute (:func:`_first_last`), the hour-of-day panel and the dead
    letters."""
    end = end or dt.datetime.now(dt.UTC)
    start = start or end - dt.timedelta(days=days)
    r = TimeRange(start, end, interval_s=3600)
    # everyone with time in the range (as the panels read it), narrowed to teams and users
    where = f"tenant = {literal(tenant)}"
    if teams or users:
        chosen = team_members(store, tenant, teams, r) if teams else set(users)
        if teams and users:
            chosen &= set(users)
        where += " AND user IN (" + (",".join(literal(u) for u in sorted(chosen))
                                     or "''") + ")"
    per_person, apps, domains = _by_grain_sections(store, r, where)
    people = sorted(p[0] for p in per_person)
    variables = {"tenant": tenant, "team": ["__all"], "person": people, "tz": timezone}
    productivity, categories, daily = _daily_sections(store, r, variables)
    first, last = _first_last(store, r, variables, [d[0] for d in daily])
    return ReportData(
        tenant=tenant, days=days, first=first, last=last,
        people=per_person, productivity=productivity, categories=categories, daily=daily,
        by_hour=[list(row) for row in store.query(expand(_BY_HOUR, r, variables))[1]],
        apps=apps, domains=domains,
        # dead letters name no person of the tenant: only in the unfiltered report
        deadletters=[] if teams or users else _panel(store, FLEET, "Dead letters per reason",
                                                     r, variables),
        timezone=timezone, start=start, end=end, teams=tuple(teams), users=tuple(users),
    )


def describe(data: ReportData) -> str:
    """The report's period and filters, in words."""
    if data.start is not None and data.end is not None:
        zone = zoneinfo.ZoneInfo(data.timezone)
        when = (f"{data.start.astimezone(zone):%Y-%m-%d %H:%M} to "
                f"{data.end.astimezone(zone):%Y-%m-%d %H:%M} ({data.timezone})")
    else:
        when = f"last {data.days} days"
    who = []
    if data.teams:
        who.append("team " + ", ".join(data.teams))
    if data.users:
        who.append("people " + ", ".join(data.users))
    return when + ("; " + "; ".join(who) if who else "")


def _with_share(rows: list[list[Any]]) -> list[list[Any]]:
    total = sum(float(r[1]) for r in rows) or 1.0
    return [[*r, round(100 * float(r[1]) / total, 1)] for r in rows]


PRODUCTIVITY_HEADERS = ["person", "productive h", "neutral h", "unproductive h", "productive %"]
CATEGORY_HEADERS = ["category", "productivity", "hours", "people"]


def _summary(data: ReportData) -> str:
    active = sum(float(p[1]) for p in data.people)
    idle = sum(float(p[2]) for p in data.people)
    productive = sum(float(p[1]) for p in data.productivity)
    unproductive = sum(float(p[3]) for p in data.productivity)
    return (f"Activity from {data.first} to {data.last} ({data.timezone}): "
            f"{len(data.people)} people, {active:.1f} h active ({productive:.1f} h productive, "
            f"{unproductive:.1f} h unproductive), {idle:.1f} h idle.")


def hours_of_day(by_hour: list[list[Any]]) -> list[list[Any]]:
    """Every hour from the first to the last active one (none left out: an hour nobody
    worked shows as 0), labelled ``09:00``."""
    if not by_hour:
        return []
    got = {int(h): float(v) for h, v in by_hour}
    return [[f"{h:02d}:00", got.get(h, 0.0)] for h in range(min(got), max(got) + 1)]


def render_text(data: ReportData) -> str:
    """The report as plain text tables for a terminal."""
    lines = [printable(f"deskpulse report — tenant {data.tenant!r}, {describe(data)}")]
    if not data.people:
        lines.append("No activity recorded in this period.")
        return "\n".join(lines) + "\n"
    lines += [
        printable(_summary(data)), "",
        "Per person",
        table(data.people, headers=["person", "active h", "idle h", "active %", "top app"],
                 floatfmt=".2f"), "",
        "Productivity per person (active time by the category rules' classes)",
        table(data.productivity, headers=PRODUCTIVITY_HEADERS, floatfmt=".2f"), "",
        "Time per category",
        table(data.categories, headers=CATEGORY_HEADERS, floatfmt=".2f"), "",
        printable(f"Active hours by hour of day ({data.timezone})"),
        table(hours_of_day(data.by_hour), headers=["hour", "active h"], floatfmt=".2f"), "",
        "Top applications (active time)",
        table(_with_share(data.apps), headers=["app", "hours", "people", "share %"],
                 floatfmt=".2f"), "",
        "Top websites (active time)",
        table(_with_share(data.domains), headers=["domain", "hours", "people", "share %"],
                 floatfmt=".2f") if data.domains else "(no browser activity)", "",
    ]
    # dead letters name nobody of the tenant: not in a report narrowed to people
    if data.deadletters:
        lines += ["Rejected messages (dead letters) by reason",
                  table(data.deadletters, headers=["reason", "count"]), ""]
    elif not (data.teams or data.users):
        lines += ["No rejected messages.", ""]
    return "\n".join(lines)


def render_html(data: ReportData) -> str:
    """A self-contained page (:mod:`deskpulse.ops.charts`): charts with legends and units,
    then the tables."""
    title = f"deskpulse report — {data.tenant}, {describe(data)}"
    summary = _summary(data) if data.people else "No activity recorded in this period."
    people = "Active and idle hours per person"
    body = "".join([
        charts.bars("people", people, charts.series_rows(data.people, ["active", "idle"])),
        charts.bars("productivity", "Productive, neutral and unproductive hours per person",
                    charts.series_rows(data.productivity,
                                       ["productive", "neutral", "unproductive"])),
        # one bar per category, in its productivity class's colour
        charts.bars("categories", "Hours per category (colour: productivity class)",
                    [(c[0], [(str(c[1]), float(c[2]))]) for c in data.categories]),
        charts.bars("hours", f"Active hours by hour of day ({data.timezone})",
                    charts.series_rows(hours_of_day(data.by_hour), ["active"])),
        charts.bars("daily", "Active and idle hours per person per day (UTC days)",
                    [(f"{d} · {p}", [("active", float(a)), ("idle", float(i))])
                     for d, p, a, i in data.daily]),
        charts.bars("apps", "Top applications (active time)",
                    charts.series_rows(data.apps, ["active"])),
        charts.bars("domains", "Top websites (active time)",
                    charts.series_rows(data.domains, ["active"]),
                    empty="No browser activity in this period."),
        "<h2>Per person</h2>",
        charts.table(["person", "active h", "idle h", "active %", "top app"], data.people,
                     "table-people"),
        "<h2>Productivity per person</h2>",
        charts.table(PRODUCTIVITY_HEADERS, data.productivity, "table-productivity"),
        "<h2>Time per category</h2>",
        charts.table(CATEGORY_HEADERS, data.categories, "table-categories"),
        "<h2>Per person and day (UTC days)</h2>",
        charts.table(["day", "person", "active h", "idle h"], data.daily, "table-daily"),
        "<h2>Top applications</h2>",
        charts.table(["app", "hours", "people"], data.apps, "table-apps"),
        "<h2>Top websites</h2>",
        charts.table(["domain", "hours", "people"], data.domains, "table-domains"),
        "" if data.teams or data.users else "<h2>Rejected messages by reason</h2>"
        + charts.table(["reason", "count"], data.deadletters, "table-deadletters"),
    ])
    footer = ("<p>The numbers of the deskpulse team overview board. Times of day in "
              f"{charts.text(data.timezone)}; days are UTC days.</p>")
    return charts.page(title, summary, body, footer)

"""The four managers' boards as code (plain dicts in Grafana's dashboard model). Pure.

Every panel is one SQL query for the ``grafana-clickhouse-datasource`` plugin,
written once here with Grafana's macros and the board's variables; the tests
expand each one for a fixed range and check its numbers on chDB, and the HTML
report runs the team overview's queries.

A panel over a time range reads the coarsest rollup that answers it exactly
(:func:`by_grain`): the whole UTC days inside the range from ``activity_daily``, the
whole hours left from ``activity_hourly``, and only the minutes at the two edges from
``activity_minutes``; a time series reads hours when its interval is a whole number of
hours. The cost follows the range's days, not its events. The person timeline reads
spans. ``deskpulse grafana export`` writes
``deploy/grafana/dashboards/*.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 39
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_UID = "deskpulse-clickhouse"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": "${datasource}"}
FOLDER_UID = "deskpulse"
TAGS = ["deskpulse"]

#: rows of the selected people in the selected tenant
PEOPLE = "tenant = '${tenant}' AND user IN (${person:singlequote})"
ONE_PERSON = "tenant = '${tenant}' AND user = '${person}'"


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # a Grafana panel type
    sql: str
    description: str = ""
    unit: str = ""
    width: int = 12
    height: int = 8
    format: int = 1  # 0: time series, 1: table

    def model(self, panel_id: int, x: int, y: int) -> dict:
        fieldconfig: dict = {"defaults": {}, "overrides": []}
        if self.unit:
            fieldconfig["defaults"]["unit"] = self.unit
        return {
            "id": panel_id, "type": self.kind, "title": self.title,
            "description": self.description, "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": fieldconfig, "options": {},
            "targets": [{"refId": "A", "datasource": DATASOURCE, "editorType": "sql",
                         "format": self.format, "queryType": "table" if self.format else
                         "timeseries", "rawSql": self.sql}],
        }


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    single_person: bool = False
    time_from: str = "now-7d"
    tags: list[str] = field(default_factory=lambda: list(TAGS))


#: the tenant's time zone when none is given (the setting's default)
DEFAULT_TIMEZONE = "UTC"


def _variables(single_person: bool, timezone: str = DEFAULT_TIMEZONE) -> list[dict]:
    def query_var(name: str, label: str, sql: str, *, multi: bool, include_all: bool,
                  all_value: str | None = None) -> dict:
        var = {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
               "query": sql, "definition": sql, "refresh": 1, "sort": 1,
               "multi": multi, "includeAll": include_all, "current": {}, "options": [],
               "hide": 0}
        if all_value is not None:
            var["allValue"] = all_value
        return var

    return [
        # the tenant's time zone for the SQL's hours of the day (``toHour(hour, '${tz}')``),
        # the same zone as the dashboard's ``timezone`` (Grafana's axes and tooltips)
        {"name": "tz", "label": "Time zone", "type": "constant", "query": timezone,
         "current": {"text": timezone, "value": timezone}, "hide": 2, "options": []},
        {"name": "datasource", "label": "ClickHouse", "type": "datasource",
         "query": DATASOURCE_TYPE, "current": {}, "hide": 0, "refresh": 1, "options": []},
        query_var("tenant", "Tenant", "SELECT DISTINCT tenant FROM deskpulse.people ORDER BY 1",
                  multi=False, include_all=False),
        query_var("team", "Team", "SELECT DISTINCT team FROM deskpulse.team_members "
                  "WHERE tenant = '${tenant}' ORDER BY 1", multi=True, include_all=True,
                  all_value="__all"),
        query_var("person", "Person",
                  "SELECT DISTINCT user FROM deskpulse.people WHERE tenant = '${tenant}' "
                  "AND ('__all' IN (${team:singlequote}) OR user IN (SELECT user FROM "
                  "deskpulse.team_members WHERE tenant = '${tenant}' AND team IN "
                  "(${team:singlequote}))) ORDER BY 1",
                  multi=not single_person, include_all=not single_person),
    ]


def variable(name: str, single_person: bool = False) -> dict:
    """One of the boards' variables (the report finds a team's people with ``person``)."""
    return next(v for v in _variables(single_person) if v["name"] == name)


def model(board: Board, timezone: str = DEFAULT_TIMEZONE) -> dict:
    """The dashboard JSON for Grafana (``POST /api/dashboards/db`` takes it as is), its
    times of day in ``timezone`` (the tenant's, an IANA name)."""
    panels, x, y, row_h = [], 0, 0, 0
    for panel_id, panel in enumerate(board.panels, start=1):
        if x + panel.width > 24:
            x, y, row_h = 0, y + row_h, 0
        panels.append(panel.model(panel_id, x, y))
        x, row_h = x + panel.width, max(row_h, panel.height)
    return {
        "uid": board.uid, "title": board.title, "description": board.description,
        "tags": board.tags, "timezone": "utc" if timezone == "UTC" else timezone,
        "editable": True, "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION, "version": 1, "refresh": "5m",
        "time": {"from": board.time_from, "to": "now"},
        "templating": {"list": _variables(board.single_person, timezone)},
        "annotations": {"list": []}, "links": [], "panels": panels,
    }


_F, _T = "$__fromTime", "$__toTime"
#: the first whole hour / day in the range, and the end of the last one
_H1, _H2 = f"toStartOfHour({_F} + 3599, 'UTC')", f"toStartOfHour({_T} + 60, 'UTC')"
_D1, _D2 = f"toStartOfDay({_F} + 86399, 'UTC')", f"toStartOfDay({_T} + 60, 'UTC')"


def by_grain(columns: str, where: str) -> str:
    """A subquery of ``columns, active_seconds, idle_seconds`` for the minutes of
    ``$__timeFilter(minute)`` with ``where``, from the coarsest table for each part.

    Every minute row in the range is in exactly one branch: its day is whole in the
    range (days), else its hour is (hours), else it is an edge minute (minutes). The
    three tables hold the same sums (hours and days are recomputed from the minutes).
    """
    return f"""(
    SELECT {columns}, active_seconds, idle_seconds FROM deskpulse.activity_daily
    WHERE toDateTime(day, 'UTC') >= {_D1} AND toDateTime(day, 'UTC') < {_D2} AND {where}
    UNION ALL
    SELECT {columns}, active_seconds, idle_seconds FROM deskpulse.activity_hourly
    WHERE hour >= {_H1} AND hour < {_H2} AND (hour < {_D1} OR hour >= {_D2}) AND {where}
    UNION ALL
    SELECT {columns}, active_seconds, idle_seconds FROM deskpulse.activity_minutes
    WHERE $__timeFilter(minute) AND (minute < {_H1} OR minute >= {_H2}) AND {where})"""


def series_by_grain(value: str, where: str) -> str:
    """``t, value`` rows for a time series over ``$__timeInterval``: whole hours from
    ``activity_hourly`` when the interval is a whole number of hours (its buckets then
    start on hours), minutes otherwise and at the edges."""
    return f"""(
    SELECT hour AS t, {value} AS v FROM deskpulse.activity_hourly
    WHERE $__interval_s % 3600 = 0 AND hour >= {_H1} AND hour < {_H2} AND {where}
    UNION ALL
    SELECT minute AS t, {value} AS v FROM deskpulse.activity_minutes
    WHERE $__timeFilter(minute)
      AND ($__interval_s % 3600 != 0 OR minute < {_H1} OR minute >= {_H2}) AND {where})"""


TEAM_OVERVIEW = Board("deskpulse-team", "deskpulse / Team overview",
                      "Active and idle time of the selected people.", (
    Panel("Per person", "table", f"""
SELECT user AS person,
       round(sum(a) / 3600, 2) AS active_hours,
       round(sum(i) / 3600, 2) AS idle_hours,
       toUInt8(round(100 * sum(a) / greatest(sum(a + i), 1))) AS active_pct,
       argMax(app, a) AS top_app
FROM (SELECT user, app, sum(active_seconds) AS a, sum(idle_seconds) AS i
      FROM {by_grain("user, app", PEOPLE)}
      GROUP BY user, app)
GROUP BY user
ORDER BY active_hours DESC, person""", "Active and idle hours, and the most used app.",
          width=24),
    Panel("Productivity per person", "barchart", f"""
SELECT user AS person,
       round(sumIf(active_seconds, productivity = 'productive') / 3600, 2) AS productive_hours,
       round(sumIf(active_seconds, productivity = 'neutral') / 3600, 2) AS neutral_hours,
       round(sumIf(active_seconds, productivity = 'unproductive') / 3600, 2)
           AS unproductive_hours,
       toUInt8(round(100 * sumIf(active_seconds, productivity = 'productive')
                     / greatest(sum(active_seconds), 1))) AS productive_pct
FROM deskpulse.activity_daily
WHERE $__dateFilter(day) AND {PEOPLE}
GROUP BY user
ORDER BY productive_hours DESC, person""", "Active hours by productivity class (the three add "
          "up to the active hours); classes come from the category rules.", unit="h"),
    Panel("Time per category", "table", f"""
SELECT category, productivity, round(sum(active_seconds) / 3600, 2) AS hours,
       uniqExact(user) AS people
FROM deskpulse.activity_daily
WHERE $__dateFilter(day) AND {PEOPLE} AND active_seconds > 0
GROUP BY category, productivity
ORDER BY hours DESC, category""", "Labels as the rules gave them when the events were "
          "processed (deskpulse recategorize relabels history).", unit="h"),
    Panel("Active vs idle hours per person per day", "barchart", f"""
SELECT toString(day) AS date, user AS person,
       round(sum(active_seconds) / 3600, 2) AS active_hours,
       round(sum(idle_seconds) / 3600, 2) AS idle_hours
FROM deskpulse.activity_daily
WHERE $__dateFilter(day) AND {PEOPLE}
GROUP BY day, user
ORDER BY date, person""", "UTC days.", unit="h"),
    Panel("Activity by hour of day", "barchart", f"""
SELECT toHour(hour, '${{tz}}') AS hour_of_day, round(sum(active_seconds) / 3600, 2) AS active_hours
FROM deskpulse.activity_hourly
WHERE $__timeFilter(hour) AND {PEOPLE}
GROUP BY hour_of_day
ORDER BY hour_of_day""", "Hours of the day in the tenant's time zone.", unit="h"),
    Panel("Top applications", "table", f"""
SELECT app, round(sum(active_seconds) / 3600, 2) AS hours, uniqExact(user) AS people
FROM {by_grain("user, app", PEOPLE)}
GROUP BY app
ORDER BY hours DESC, app
LIMIT 10""", unit="h"),
    Panel("Top websites", "table", f"""
SELECT domain, round(sum(active_seconds) / 3600, 2) AS hours, uniqExact(user) AS people
FROM {by_grain("user, domain", PEOPLE + " AND domain != ''")}
GROUP BY domain
ORDER BY hours DESC, domain
LIMIT 10""", unit="h"),
    Panel("Active time", "timeseries", f"""
SELECT $__timeInterval(t) AS time, round(sum(v) / 3600, 3) AS active_hours
FROM {series_by_grain("active_seconds", PEOPLE)}
GROUP BY time
ORDER BY time""", unit="h", width=24, format=0),
))

PERSON = Board("deskpulse-person", "deskpulse / Person", "One person's spans and time.", (
    Panel("Timeline", "table", f"""
SELECT start, end, app, domain, title, idle, category, productivity
FROM deskpulse.activity_spans
WHERE $__timeFilter(start) AND {ONE_PERSON}
ORDER BY start""", "Every span in the range.", width=24, height=10),
    Panel("Time per application", "piechart", f"""
SELECT app, round(sum(active_seconds) / 3600, 2) AS hours
FROM {by_grain("app", ONE_PERSON)}
GROUP BY app
ORDER BY hours DESC, app""", unit="h"),
    Panel("Time per website", "piechart", f"""
SELECT domain, round(sum(active_seconds) / 3600, 2) AS hours
FROM {by_grain("domain", ONE_PERSON + " AND domain != ''")}
GROUP BY domain
ORDER BY hours DESC, domain""", unit="h"),
    Panel("Time per productivity class", "piechart", f"""
SELECT productivity, round(sum(active_seconds) / 3600, 2) AS hours
FROM {by_grain("productivity", ONE_PERSON)}
WHERE active_seconds > 0
GROUP BY productivity
ORDER BY hours DESC, productivity""", unit="h"),
    Panel("Time per category", "piechart", f"""
SELECT category, round(sum(active_seconds) / 3600, 2) AS hours
FROM {by_grain("category", ONE_PERSON)}
WHERE active_seconds > 0
GROUP BY category
ORDER BY hours DESC, category""", unit="h"),
), single_person=True)

WORKING_HOURS = Board("deskpulse-hours", "deskpulse / Working hours",
                      "Time inside working hours: spans are clipped to each person's "
                      "schedule in the stream, so everything here is in-schedule.", (
    Panel("In-schedule activity per person per day", "table", f"""
SELECT toString(toDate(start)) AS day, user AS person,
       round(sumIf(dateDiff('millisecond', start, end), NOT idle) / 3600000, 2) AS active_hours,
       toString(min(start), '${{tz}}') AS first_activity,
       toString(max(end), '${{tz}}') AS last_activity
FROM deskpulse.activity_spans
WHERE $__timeFilter(start) AND {PEOPLE}
GROUP BY day, user
ORDER BY day, person""", "UTC days; first and last activity in the tenant's time zone.", width=24),
    Panel("Active hours per weekday", "barchart", f"""
SELECT toDayOfWeek(day) AS weekday, round(sum(active_seconds) / 3600, 2) AS active_hours
FROM deskpulse.activity_daily
WHERE $__dateFilter(day) AND {PEOPLE}
GROUP BY weekday
ORDER BY weekday""", "1 = Monday. Days off and weekends outside schedules stay empty.",
          unit="h"),
    Panel("Days with activity per person", "table", f"""
SELECT user AS person, uniqExact(day) AS days
FROM deskpulse.activity_daily
WHERE $__dateFilter(day) AND {PEOPLE} AND active_seconds > 0
GROUP BY user
ORDER BY person""", "Days off do not appear."),
))

FLEET = Board("deskpulse-fleet", "deskpulse / Fleet health",
              "Collectors, event flow, rejected messages and pipeline delay.", (
    Panel("Collectors last seen", "table", """
SELECT host, user AS person, toString(last_seen) AS last_seen, spans
FROM deskpulse.collectors
WHERE tenant = '${tenant}'
ORDER BY last_seen DESC, host""", width=24),
    Panel("Spans per interval", "timeseries", """
SELECT $__timeInterval(start) AS time, count() AS spans
FROM deskpulse.activity_spans
WHERE $__timeFilter(start) AND tenant = '${tenant}'
GROUP BY time
ORDER BY time""", format=0),
    Panel("Dead letters per reason", "table", """
SELECT reason, count() AS messages
FROM deskpulse.deadletter
WHERE $__timeFilter(received_at)
GROUP BY reason
ORDER BY messages DESC, reason"""),
    Panel("Pipeline delay (span end to stored), p50 / p99", "timeseries", """
SELECT $__timeInterval(written_at) AS time,
       round(quantileExact(0.5)(dateDiff('millisecond', end, written_at)) / 1000, 1) AS p50_s,
       round(quantileExact(0.99)(dateDiff('millisecond', end, written_at)) / 1000, 1) AS p99_s
FROM deskpulse.spans_store
WHERE $__timeFilter(written_at) AND tenant = '${tenant}'
GROUP BY time
ORDER BY time""", unit="s", width=24, format=0),
), time_from="now-24h")

BOARDS = (TEAM_OVERVIEW, PERSON, WORKING_HOURS, FLEET)


def export(folder: Path, timezone: str = DEFAULT_TIMEZONE) -> list[Path]:
    """Write one ``<uid>.json`` per board into ``folder`` (times of day in ``timezone``);
    returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for board in BOARDS:
        path = out / f"{board.uid}.json"
        path.write_text(json.dumps(model(board, timezone), indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths

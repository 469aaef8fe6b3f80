"""The managers' summary: the team overview board's numbers, in a terminal or as HTML.

The numbers come from the very queries of the Grafana team overview
(:mod:`deskpulse.boards.dashboards`), expanded for the last ``days`` days and
every person of the tenant, so the report and the board always agree (and read
the same coarsest rollups: whole days, whole hours, edge minutes).

Names, apps and sites are data from desktops: the terminal report prints them
through :func:`deskpulse.output.printable` (no escape sequence reaches the
terminal); the HTML page shows them the same way, HTML-escaped, and its chart data
is JSON with ``<``, ``>`` and ``&`` escaped, so no value can end or re-open the
script element it lives in.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

import orjson

from deskpulse.boards.dashboards import FLEET, TEAM_OVERVIEW, Board, by_grain
from deskpulse.boards.macros import TimeRange, expand
from deskpulse.output import printable, safe_cell, table
from deskpulse.sql import SqlStore, literal


@dataclass(frozen=True)
class ReportData:
    tenant: str
    days: int
    first: str | None
    last: str | None
    people: list[list[Any]]   # person, active h, idle h, active %, top app
    productivity: list[list[Any]]  # person, productive h, neutral h, unproductive h, prod. %
    categories: list[list[Any]]    # category, productivity, hours, people
    daily: list[list[Any]]    # day, person, active h, idle h
    by_hour: list[list[Any]]  # hour of day (UTC), active h
    apps: list[list[Any]]     # app, hours, people
    domains: list[list[Any]]  # domain, hours, people
    deadletters: list[list[Any]]  # reason, count


def _panel(store: SqlStore, board: Board, title: str, r: TimeRange,
           variables: dict[str, Any]) -> list[list[Any]]:
    panel = next(p for p in board.panels if p.title == title)
    return [list(row) for row in store.query(expand(panel.sql, r, variables))[1]]


def collect(store: SqlStore, tenant: str, days: int = 7,
            end: dt.datetime | None = None) -> ReportData:
    end = end or dt.datetime.now(dt.UTC)
    r = TimeRange(end - dt.timedelta(days=days), end, interval_s=3600)
    # everyone with time in the range, from the coarsest rollups (as the panels read)
    _, people_rows = store.query(expand(
        f"SELECT DISTINCT user FROM {by_grain('user', f'tenant = {literal(tenant)}')} "
        "ORDER BY user", r))
    variables = {"tenant": tenant, "team": ["__all"], "person": [p[0] for p in people_rows]}
    # first and last minute: the store sorted by (tenant, hour, ...) answers from two columns
    # (a row written twice has the same minute, so no FINAL is needed for min and max)
    _, span = store.query(expand(
        "SELECT toString(min(minute)), toString(max(minute)), count() FROM "
        "deskpulse.minutes_store WHERE $__timeFilter(minute) AND tenant = '${tenant}'",
        r, variables))
    first, last, rows = span[0]

    def panel(board: Board, title: str) -> list[list[Any]]:
        return _panel(store, board, title, r, variables)
    return ReportData(
        tenant=tenant, days=days, first=first if rows else None, last=last if rows else None,
        people=panel(TEAM_OVERVIEW, "Per person"),
        productivity=panel(TEAM_OVERVIEW, "Productivity per person"),
        categories=panel(TEAM_OVERVIEW, "Time per category"),
        daily=panel(TEAM_OVERVIEW, "Active vs idle hours per person per day"),
        by_hour=panel(TEAM_OVERVIEW, "Activity by hour of day"),
        apps=panel(TEAM_OVERVIEW, "Top applications"),
        domains=panel(TEAM_OVERVIEW, "Top websites"),
        deadletters=panel(FLEET, "Dead letters per reason"),
    )


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
    return (f"Activity from {data.first} to {data.last} UTC: {len(data.people)} people, "
            f"{active:.1f} h active ({productive:.1f} h productive, {unproductive:.1f} h "
            f"unproductive), {idle:.1f} h idle.")


def render_text(data: ReportData) -> str:
    """The report as plain text tables for a terminal."""
    lines = [printable(f"deskpulse report — tenant {data.tenant!r}, last {data.days} days")]
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
        "Top applications (active time)",
        table(_with_share(data.apps), headers=["app", "hours", "people", "share %"],
                 floatfmt=".2f"), "",
        "Top websites (active time)",
        table(_with_share(data.domains), headers=["domain", "hours", "people", "share %"],
                 floatfmt=".2f") if data.domains else "(no browser activity)", "",
    ]
    if data.deadletters:
        lines += ["Rejected messages (dead letters) by reason",
                  table(data.deadletters, headers=["reason", "count"]), ""]
    else:
        lines += ["No rejected messages.", ""]
    return "\n".join(lines)


def _text(value: Any) -> str:
    """A value as HTML text: made printable, then escaped."""
    return html.escape(str(safe_cell(value)))


def _label(value: Any) -> str:
    return str(safe_cell(value))


def _table(headers: list[str], rows: list[list[Any]], table_id: str) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_html(data: ReportData) -> str:
    """A self-contained page: tables rendered here, SVG charts drawn by inline script."""
    charts = {
        "people": {"title": "Active and idle hours per person", "labels":
                   [_label(p[0]) for p in data.people], "series": [
                       {"name": "active", "values": [float(p[1]) for p in data.people]},
                       {"name": "idle", "values": [float(p[2]) for p in data.people]}]},
        "productivity": {"title": "Productive, neutral and unproductive hours per person",
                         "labels": [_label(p[0]) for p in data.productivity], "series": [
                             {"name": name, "values": [float(p[i]) for p in data.productivity]}
                             for i, name in ((1, "productive"), (2, "neutral"),
                                             (3, "unproductive"))]},
        "hours": {"title": "Active hours by hour of day (UTC)", "labels":
                  [f"{int(h):02d}" for h, _ in data.by_hour],
                  "series": [{"name": "active", "values": [float(v) for _, v in data.by_hour]}]},
        "apps": {"title": "Top applications (hours)", "labels": [_label(a[0]) for a in data.apps],
                 "series": [{"name": "active", "values": [float(a[1]) for a in data.apps]}]},
        "domains": {"title": "Top websites (hours)", "labels": [_label(d[0]) for d in data.domains],
                    "series": [{"name": "active", "values": [float(d[1]) for d in data.domains]}]},
    }
    payload = (orjson.dumps(charts).decode().replace("<", "\\u003c").replace(">", "\\u003e")
               .replace("&", "\\u0026"))
    sections = "".join(f'<section><h2>{html.escape(c["title"])}</h2>'
                       f'<svg class="chart" id="chart-{key}" role="img" '
                       f'aria-label="{html.escape(c["title"])}"></svg></section>'
                       for key, c in charts.items())
    title = f"deskpulse report — {data.tenant}, last {data.days} days"
    summary = _summary(data) if data.people else "No activity recorded in this period."
    tables = (
        "<h2>Per person</h2>" + _table(["person", "active h", "idle h", "active %", "top app"],
                                       data.people, "people")
        + "<h2>Productivity per person</h2>"
        + _table(PRODUCTIVITY_HEADERS, data.productivity, "productivity")
        + "<h2>Time per category</h2>"
        + _table(CATEGORY_HEADERS, data.categories, "categories")
        + "<h2>Per person and day (UTC)</h2>"
        + _table(["day", "person", "active h", "idle h"], data.daily, "daily")
        + "<h2>Top applications</h2>" + _table(["app", "hours", "people"], data.apps, "apps")
        + "<h2>Top websites</h2>" + _table(["domain", "hours", "people"], data.domains, "domains")
        + "<h2>Rejected messages by reason</h2>"
        + _table(["reason", "count"], data.deadletters, "deadletters"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }}
section {{ display: inline-block; width: 520px; vertical-align: top; margin: 0 12px 12px 0; }}
svg.chart {{ width: 520px; height: 260px; background: #fafafa; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin-bottom: 16px; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
.active {{ fill: #2f7ed8; }} .idle {{ fill: #f28f43; }}
.productive {{ fill: #2ca02c; }} .neutral {{ fill: #9e9e9e; }} .unproductive {{ fill: #d62728; }}
</style></head><body>
<h1>{_text(title)}</h1><p id="summary">{_text(summary)}</p>
{sections}
{tables}
<script id="report-data" type="application/json">{payload}</script>
<script>
(function () {{
  const NS = "http://www.w3.org/2000/svg";
  const charts = JSON.parse(document.getElementById("report-data").textContent);
  function el(name, attrs, parent) {{
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }}
  for (const key in charts) {{
    const c = charts[key], svg = document.getElementById("chart-" + key);
    const W = 520, H = 260, left = 40, bottom = 40, top = 10;
    const n = c.labels.length;
    if (!n) {{ el("text", {{x: 20, y: 40}}, svg).textContent = "no data"; continue; }}
    const max = Math.max(...c.series.map(s => Math.max(...s.values)), 0.01);
    const group = (W - left - 10) / n;
    const bar = Math.min(48, Math.max(2, group * 0.8 / c.series.length));
    c.series.forEach((s, si) => s.values.forEach((v, i) => {{
      const h = (H - bottom - top) * v / max;
      const r = el("rect", {{"class": "bar " + s.name, "data-label": c.labels[i],
        "data-series": s.name, "data-value": v, x: left + i * group + si * bar,
        y: H - bottom - h, width: bar - 1, height: h}}, svg);
      el("title", {{}}, r).textContent = c.labels[i] + " " + s.name + ": " + v;
    }}));
    c.labels.forEach((label, i) => {{
      el("text", {{x: left + i * group, y: H - bottom + 14, "font-size": 10}}, svg)
        .textContent = String(label).slice(0, 12);
    }});
    el("text", {{x: 4, y: top + 10, "font-size": 10}}, svg).textContent = max.toFixed(2);
    svg.setAttribute("data-rendered", "true");
  }}
}})();
</script></body></html>
"""

"""A person's own report (``deskpulse report --user U``): their week, with the boards' numbers.

Every number is a board panel's query (:mod:`deskpulse.ops.boards.dashboards`) expanded
for this one person, as Grafana would send it: the totals and the days are the team
overview's "Per person" and "Active vs idle hours per person per day" rows for them,
the apps, sites, categories and classes the person board's panels. So what a person
reads here is what their manager's boards show for them.

The HTML page is self-contained (no script, no external asset): horizontal bars drawn
with inline SVG whose labels sit in their own column (they never run into each other),
a legend for every colour, hours as the unit. Every value from a desktop is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

from deskpulse.core.errors import ConfigError
from deskpulse.core.output import printable, safe_cell, table
from deskpulse.core.sql import SqlStore
from deskpulse.ops.boards.dashboards import PERSON, TEAM_OVERVIEW, Board
from deskpulse.ops.boards.macros import TimeRange, expand


@dataclass(frozen=True)
class PersonReport:
    tenant: str
    user: str
    days: int
    start: dt.datetime
    end: dt.datetime
    totals: list[Any]          # active h, idle h, active %, top app (empty: nothing)
    daily: list[list[Any]]     # day (UTC), active h, idle h
    apps: list[list[Any]]      # app, active h
    sites: list[list[Any]]     # domain, active h
    categories: list[list[Any]]  # category, active h
    productivity: list[list[Any]]  # class, active h


def _panel(store: SqlStore, board: Board, title: str, r: TimeRange,
           variables: dict[str, Any]) -> list[list[Any]]:
    panel = next(p for p in board.panels if p.title == title)
    return [list(row) for row in store.query(expand(panel.sql, r, variables))[1]]


def collect_person(store: SqlStore, tenant: str, user: str, days: int = 7,
                   end: dt.datetime | None = None) -> PersonReport:
    """The person's last ``days`` days from the boards' queries."""
    end = end or dt.datetime.now(dt.UTC)
    r = TimeRange(end - dt.timedelta(days=days), end, interval_s=3600)
    team = {"tenant": tenant, "team": ["__all"], "person": [user]}
    one = {"tenant": tenant, "person": user}
    per_person = _panel(store, TEAM_OVERVIEW, "Per person", r, team)
    daily = _panel(store, TEAM_OVERVIEW, "Active vs idle hours per person per day", r, team)
    return PersonReport(
        tenant=tenant, user=user, days=days, start=r.start, end=r.end,
        totals=per_person[0][1:] if per_person else [],
        daily=[[d, a, i] for d, _, a, i in daily],
        apps=_panel(store, PERSON, "Time per application", r, one),
        sites=_panel(store, PERSON, "Time per website", r, one),
        categories=_panel(store, PERSON, "Time per category", r, one),
        productivity=_panel(store, PERSON, "Time per productivity class", r, one),
    )


def _period(data: PersonReport) -> str:
    return f"{data.start:%Y-%m-%d %H:%M} to {data.end:%Y-%m-%d %H:%M} UTC"


def render_person_text(data: PersonReport) -> str:
    lines = [printable(f"deskpulse report for {data.user!r} (tenant {data.tenant!r}), "
                       f"{_period(data)}")]
    if not data.totals:
        lines.append("Nothing recorded for you in this period.")
        return "\n".join(lines) + "\n"
    active, idle, pct, top = data.totals
    lines += [printable(f"{float(active):.2f} h active, {float(idle):.2f} h idle ({pct} % "
                        f"active); most used: {top}"), "",
              "Per day (UTC days)", table(data.daily, headers=["day", "active h", "idle h"],
                                          floatfmt=".2f"), ""]
    for title, rows, head in (("Applications (active time)", data.apps, "app"),
                              ("Websites (active time)", data.sites, "site"),
                              ("Categories (active time)", data.categories, "category"),
                              ("Productivity classes (active time)", data.productivity,
                               "class")):
        lines += [title, table(rows, headers=[head, "hours"], floatfmt=".2f")
                  if rows else "(none)", ""]
    return "\n".join(lines)


def _text(value: Any) -> str:
    return html.escape(str(safe_cell(value)))


#: series colours (and the legend that names them)
COLOURS = {"active": "#2563eb", "idle": "#f59e0b"}


def _bars(chart_id: str, title: str, rows: list[list[Any]], series: list[str]) -> str:
    """Horizontal bars, one row per label; the label is HTML beside the SVG bars."""
    if not rows:
        return f'<section><h2>{_text(title)}</h2><p class="none">Nothing in this period.</p>' \
               "</section>"
    peak = max((float(v) for row in rows for v in row[1:1 + len(series)]), default=0.0) or 1.0
    legend = "".join(f'<span class="key"><svg width="12" height="12" aria-hidden="true">'
                     f'<rect width="12" height="12" fill="{COLOURS[s]}"/></svg> {s}</span>'
                     for s in series)
    body = []
    for row in rows:
        label, values = row[0], [float(v) for v in row[1:1 + len(series)]]
        height = 14 * len(series)
        rects = "".join(
            f'<rect class="bar {s}" data-series="{s}" data-value="{v}" x="0" y="{14 * i}" '
            f'width="{100 * v / peak:.3f}%" height="12" fill="{COLOURS[s]}">'
            f"<title>{_text(label)}: {v:.2f} h {s}</title></rect>"
            for i, (s, v) in enumerate(zip(series, values, strict=True)))
        numbers = " / ".join(f"{v:.2f} h" for v in values)
        body.append(f'<tr><th scope="row" class="label">{_text(label)}</th>'
                    f'<td class="bars"><svg width="100%" height="{height}" role="img" '
                    f'aria-label="{_text(label)}: {numbers}">{rects}</svg></td>'
                    f'<td class="num">{numbers}</td></tr>')
    return (f'<section id="{chart_id}"><h2>{_text(title)}</h2>'
            f'<p class="legend">{legend} <span class="unit">(hours)</span></p>'
            f'<table class="chart"><tbody>{"".join(body)}</tbody></table></section>')


def render_person_html(data: PersonReport) -> str:
    title = f"Your deskpulse report: {data.user} ({data.tenant})"
    if data.totals:
        active, idle, pct, top = data.totals
        summary = (f"{float(active):.2f} h active and {float(idle):.2f} h idle ({pct} % "
                   f"active), {_period(data)}. Most used: {top}.")
    else:
        summary = f"Nothing recorded for you, {_period(data)}."
    sections = "".join([
        _bars("daily", "Per day (UTC days)", data.daily, ["active", "idle"]),
        _bars("apps", "Applications (active time)", data.apps, ["active"]),
        _bars("sites", "Websites (active time)", data.sites, ["active"]),
        _bars("categories", "Categories (active time)", data.categories, ["active"]),
        _bars("productivity", "Productivity classes (active time)", data.productivity,
              ["active"]),
    ])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_text(title)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 60rem;
  color: #1f2937; }}
h2 {{ font-size: 1.05rem; margin: 1.5rem 0 0.3rem; }}
.legend, .none, .unit, footer {{ color: #6b7280; }}
.key {{ margin-right: 1rem; white-space: nowrap; }}
table.chart {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th.label {{ width: 30%; text-align: left; font-weight: normal; padding: 2px 8px 2px 0;
  overflow-wrap: anywhere; vertical-align: top; }}
td.bars {{ width: 50%; padding: 2px 0; vertical-align: top; }}
td.num {{ width: 20%; text-align: right; font-variant-numeric: tabular-nums;
  padding-left: 8px; vertical-align: top; white-space: nowrap; }}
</style></head><body>
<h1>{_text(title)}</h1>
<p id="summary">{_text(summary)}</p>
{sections}
<footer><p>The same numbers your organisation's boards show for you. Days are UTC days.
Ask for a subject-access export (deskpulse export) for every stored row.</p></footer>
</body></html>
"""


def check_user(user: str) -> None:
    """``report --user``'s login, checked before the store is opened."""
    if not user.strip() or len(user) > 255:
        raise ConfigError("--user must name one login (1-255 characters, not blank)")

"""A person's own report (``deskpulse report --user U``): their week, with the boards' numbers.

Every number is a board panel's query (:mod:`deskpulse.ops.boards.dashboards`) expanded
for this one person, as Grafana would send it: the totals and the days are the team
overview's "Per person" and "Active vs idle hours per person per day" rows for them,
the apps, sites, categories and classes the person board's panels. So what a person
reads here is what their manager's boards show for them.

The HTML page is the managers' report's kind (:mod:`deskpulse.ops.charts`: no script,
no external asset, labels in their own column that wrap, a legend for every colour, an
axis in hours); every value from a desktop is escaped. The period is shown in the
tenant's time zone; days are the rollups' UTC days.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from deskpulse.core.errors import ConfigError
from deskpulse.core.output import printable, table
from deskpulse.core.sql import SqlStore
from deskpulse.ops import charts
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
    timezone: str = "UTC"


def _panel(store: SqlStore, board: Board, title: str, r: TimeRange,
           variables: dict[str, Any]) -> list[list[Any]]:
    panel = next(p for p in board.panels if p.title == title)
    return [list(row) for row in store.query(expand(panel.sql, r, variables))[1]]


def collect_person(store: SqlStore, tenant: str, user: str, days: int = 7,
                   end: dt.datetime | None = None, *, start: dt.datetime | None = None,
                   timezone: str = "UTC") -> PersonReport:
    """The person's last ``days`` days (or ``start``..``end``) from the boards' queries."""
    end = end or dt.datetime.now(dt.UTC)
    r = TimeRange(start or end - dt.timedelta(days=days), end, interval_s=3600)
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
        timezone=timezone,
    )


def period_text(data: PersonReport) -> str:
    zone = zoneinfo.ZoneInfo(data.timezone)
    return (f"{data.start.astimezone(zone):%Y-%m-%d %H:%M} to "
            f"{data.end.astimezone(zone):%Y-%m-%d %H:%M} ({data.timezone})")


def render_person_text(data: PersonReport) -> str:
    lines = [printable(f"deskpulse report for {data.user!r} (tenant {data.tenant!r}), "
                       f"{period_text(data)}")]
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


def render_person_html(data: PersonReport) -> str:
    title = f"Your deskpulse report: {data.user} ({data.tenant})"
    if data.totals:
        active, idle, pct, top = data.totals
        summary = (f"{float(active):.2f} h active and {float(idle):.2f} h idle ({pct} % "
                   f"active), {period_text(data)}. Most used: {top}.")
    else:
        summary = f"Nothing recorded for you, {period_text(data)}."
    body = "".join([
        charts.bars("daily", "Per day (UTC days)",
                    charts.series_rows(data.daily, ["active", "idle"])),
        charts.bars("apps", "Applications (active time)",
                    charts.series_rows(data.apps, ["active"])),
        charts.bars("sites", "Websites (active time)", charts.series_rows(data.sites, ["active"])),
        charts.bars("categories", "Categories (active time)",
                    charts.series_rows(data.categories, ["active"])),
        # each class in its own colour (the legend says which)
        charts.bars("productivity", "Productivity classes (active time)",
                    [(c, [(str(c), float(h))]) for c, h in data.productivity]),
    ])
    footer = ("<p>The same numbers your organisation's boards show for you. Times in "
              f"{charts.text(data.timezone)}; days are UTC days. Ask for a subject-access "
              "export (deskpulse export) for every stored row.</p>")
    return charts.page(title, summary, body, footer)


def check_user(user: str) -> None:
    """``report --user``'s login, checked before the store is opened."""
    if not user.strip() or len(user) > 255:
        raise ConfigError("--user must name one login (1-255 characters, not blank)")

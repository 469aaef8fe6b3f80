"""The managers' summary: active and idle hours per person, top apps and domains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from deskpulse.sql import literal
from deskpulse.store import Store


@dataclass(frozen=True)
class ReportData:
    tenant: str
    days: int
    first: str | None
    last: str | None
    people: list[list[Any]]   # user, active h, idle h, active share %, top app
    apps: list[list[Any]]     # app, hours, people, share %
    domains: list[list[Any]]  # domain, hours, people, share %
    deadletters: list[list[Any]]  # reason, count


def _where(tenant: str, days: int) -> str:
    return (f"tenant = {literal(tenant)} "
            f"AND minute >= now() - INTERVAL {int(days)} DAY")


def collect(store: Store, tenant: str, days: int = 7) -> ReportData:
    where = _where(tenant, days)
    _, span = store.query(
        f"SELECT toString(min(minute)), toString(max(minute)), count() "
        f"FROM deskpulse.activity_minutes WHERE {where}")
    first, last, rows = span[0]
    _, people = store.query(f"""
        SELECT user,
               round(sum(a) / 3600, 2) AS active_h,
               round(sum(i) / 3600, 2) AS idle_h,
               toUInt8(round(100 * sum(a) / greatest(sum(a + i), 1))) AS active_pct,
               argMax(app, a) AS top_app
        FROM (SELECT user, app, sum(active_seconds) AS a, sum(idle_seconds) AS i
              FROM deskpulse.activity_minutes WHERE {where} GROUP BY user, app)
        GROUP BY user ORDER BY active_h DESC, user""")
    _, apps = store.query(f"""
        SELECT app, round(h, 2), people, round(100 * s / greatest(total, 1), 1)
        FROM (SELECT app, sum(active_seconds) / 3600 AS h, sum(active_seconds) AS s,
                     uniqExact(user) AS people, sum(sum(active_seconds)) OVER () AS total
              FROM deskpulse.activity_minutes WHERE {where} GROUP BY app)
        ORDER BY h DESC, app LIMIT 10""")
    _, domains = store.query(f"""
        SELECT domain, round(h, 2), people, round(100 * s / greatest(total, 1), 1)
        FROM (SELECT domain, sum(active_seconds) / 3600 AS h, sum(active_seconds) AS s,
                     uniqExact(user) AS people, sum(sum(active_seconds)) OVER () AS total
              FROM deskpulse.activity_minutes WHERE {where} AND domain != '' GROUP BY domain)
        ORDER BY h DESC, domain LIMIT 10""")
    _, deadletters = store.query(f"""
        SELECT reason, count() FROM deskpulse.deadletter
        WHERE received_at >= now() - INTERVAL {int(days)} DAY
        GROUP BY reason ORDER BY count() DESC, reason""")
    return ReportData(tenant=tenant, days=days, first=first if rows else None,
                      last=last if rows else None, people=people, apps=apps,
                      domains=domains, deadletters=deadletters)


def render_text(data: ReportData) -> str:
    """The report as plain text tables for a terminal."""
    lines = [f"deskpulse report — tenant {data.tenant!r}, last {data.days} days"]
    if not data.people:
        lines.append("No activity recorded in this period.")
        return "\n".join(lines) + "\n"
    total_active = sum(float(p[1]) for p in data.people)
    total_idle = sum(float(p[2]) for p in data.people)
    lines += [
        f"Activity from {data.first} to {data.last} UTC: {len(data.people)} people, "
        f"{total_active:.1f} h active, {total_idle:.1f} h idle.",
        "",
        "Per person",
        tabulate(data.people, headers=["person", "active h", "idle h", "active %", "top app"],
                 floatfmt=".2f"),
        "",
        "Top applications (active time)",
        tabulate(data.apps, headers=["app", "hours", "people", "share %"], floatfmt=".2f"),
        "",
        "Top websites (active time)",
        tabulate(data.domains, headers=["domain", "hours", "people", "share %"], floatfmt=".2f")
        if data.domains else "(no browser activity)",
        "",
    ]
    if data.deadletters:
        lines += ["Rejected messages (dead letters) by reason",
                  tabulate(data.deadletters, headers=["reason", "count"]), ""]
    else:
        lines += ["No rejected messages.", ""]
    return "\n".join(lines)

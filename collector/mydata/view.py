"""What the "my data" page shows, as one JSON document. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from collector.config import CollectorSettings

#: the events waiting in the spool that the page lists (the count is always complete)
SPOOL_PREVIEW = 200
_EVENT_FIELDS = ("event_id", "app", "title", "url", "start_ms", "end_ms", "idle")

SERVER_POLICIES = (
    "Do-not-track lists and working-hour schedules set by your organisation are applied on "
    "the server, after sending: events of a listed period or outside your schedule are "
    "dropped there and never stored. This computer cannot read those lists; your "
    "subject-access export (deskpulse export) shows the ones that apply to you.")


def shown(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's fields the page shows, as they were (or will be) sent."""
    return {"event_id": event["event_id"], "app": event["app"], "title": event.get("title", ""),
            "url": event.get("url", ""), "start_ms": event["start_ms"],
            "end_ms": event["end_ms"], "idle": bool(event.get("idle", False))}


def state(status: Mapping[str, Any], inside_hours: bool | None) -> str:
    """One word for the indicator: paused, away, off-hours, waiting or recording."""
    if status["paused"]:
        return "paused"
    if status.get("away"):
        return "away"
    if inside_hours is False:
        return "off-hours"
    if status["spooled"]:
        return "waiting"
    return "recording"


def page(settings: CollectorSettings, status: Mapping[str, Any],
         sent: Sequence[Mapping[str, Any]], pauses: Sequence[Mapping[str, Any]],
         spooled: Sequence[Mapping[str, Any]], *, now_ms: int, day_start_ms: int,
         inside_hours: bool | None) -> dict[str, Any]:
    """The page's document (see the module doc of :mod:`collector.mydata`)."""
    today = [shown(e) for e in sent if e["start_ms"] >= day_start_ms]
    active = sum(e["end_ms"] - e["start_ms"] for e in today if not e["idle"])
    idle = sum(e["end_ms"] - e["start_ms"] for e in today if e["idle"])
    return {
        "now_ms": now_ms, "day_start_ms": day_start_ms, "tz": settings.timezone,
        "who": {"user": settings.user, "host": settings.host, "tenant": settings.tenant},
        "state": state(status, inside_hours),
        "private_mode": {"on": bool(status["paused"]),
                         "since_ms": status.get("paused_since_ms"),
                         "until_ms": status.get("paused_until_ms")},
        "working_hours": {"spec": settings.hours, "tz": settings.timezone,
                          "inside_now": inside_hours},
        "capture": {"titles": settings.capture_titles, "url_mode": settings.url_mode,
                    "redaction_patterns": len(settings.redact),
                    "idle_after_s": settings.idle_threshold},
        "server_policies": SERVER_POLICIES,
        "sent": today,
        "totals": {"events": len(today), "active_ms": active, "idle_ms": idle},
        "pauses": [dict(p) for p in pauses],
        "spool": {"waiting": int(status["spooled"]), "in_flight": int(status.get("in_flight", 0)),
                  "dropped": int(status.get("dropped", 0)),
                  "events": [shown(e) for e in spooled[:SPOOL_PREVIEW]]},
    }

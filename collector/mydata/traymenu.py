"""The tray indicator's model: its icon, tooltip and menu for a collector status. Pure.

:mod:`collector.mydata.tray` puts this on D-Bus (StatusNotifierItem + dbusmenu).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: the indicator's states: icon name (freedesktop icon theme) and what it says
LOOKS = {
    "recording": ("media-record", "deskpulse is recording"),
    "waiting": ("network-transmit", "deskpulse is recording; {n} events wait to be sent"),
    "paused": ("media-playback-pause", "deskpulse is paused (private mode) {until}"),
    "away": ("media-playback-pause", "deskpulse records nothing while you are away"),
    "off-hours": ("media-playback-pause", "deskpulse records nothing outside working hours"),
}


@dataclass(frozen=True)
class Item:
    """One menu entry; ``action`` is what a click does (None: a label or separator)."""

    id: int
    label: str
    #: ("pause", seconds or None: until resumed), ("resume", None) or ("open", None)
    action: tuple[str, float | None] | None = None
    enabled: bool = True
    separator: bool = False


def look(state: str, status: Mapping[str, Any], tz: dt.tzinfo = dt.UTC) -> tuple[str, str]:
    """(icon name, tooltip) for a state (see :func:`collector.mydata.view.state`)."""
    icon, text = LOOKS[state]
    until = status.get("paused_until_ms")
    when = (f"until {dt.datetime.fromtimestamp(until / 1000, tz):%H:%M}" if until
            else "until you resume")
    return icon, text.format(n=status.get("spooled", 0), until=when)


def menu(state: str, status: Mapping[str, Any], *, can_open: bool,
         tz: dt.tzinfo = dt.UTC) -> list[Item]:
    """The menu: what is going on, the pause choices (or resume), and "open my data"."""
    paused = bool(status.get("paused"))
    return [
        Item(1, look(state, status, tz)[1], enabled=False),
        Item(2, "", separator=True),
        Item(3, "Pause for 15 minutes", ("pause", 900.0), enabled=not paused),
        Item(4, "Pause for 1 hour", ("pause", 3600.0), enabled=not paused),
        Item(5, "Pause until I resume", ("pause", None), enabled=not paused),
        Item(6, "Resume recording", ("resume", None), enabled=paused),
        Item(7, "", separator=True),
        Item(8, "Open my data", ("open", None), enabled=can_open),
    ]

"""The macOS probe's logic against a fake of the macOS calls (no macOS here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from collector.agent import Collector
from collector.config import collector_settings
from collector.probes.macos import (
    FIX_ACCESSIBILITY,
    FIX_SCREEN,
    RECHECK_S,
    MacAway,
    MacIdle,
    MacProbe,
    permission_notes,
)
from collector.probes.select import Choice, Session, describe
from collector.standalone import status_lines
from tests.unit.test_windows_probe import _Spool

PID = 501


@dataclass
class FakeMac:
    accessibility: bool = True
    screen: bool = True
    front: tuple[int, str] | None = (PID, "Safari")
    ax_title: str | None = "Apple (Focused)"
    windows: list[dict[str, Any]] = field(default_factory=list)
    idle: float = 0.0
    locked: bool = False
    on_console: bool = True
    asked: int = 0

    def frontmost_app(self):
        return self.front

    def window_list(self):
        if not self.screen:  # what macOS does: the names are simply left out
            return [{k: v for k, v in w.items() if k != "kCGWindowName"} for w in self.windows]
        return self.windows

    def focused_window_title(self, pid):
        return self.ax_title if self.accessibility else None

    def executable(self, pid):
        return "/Applications/Safari.app/Contents/MacOS/Safari"

    def accessibility_trusted(self):
        self.asked += 1
        return self.accessibility

    def screen_recording_allowed(self):
        return self.screen

    def seconds_since_input(self):
        return self.idle

    def session(self):
        return {"CGSSessionScreenIsLocked": self.locked, "kCGSSessionOnConsoleKey": self.on_console}


def windows() -> list[dict[str, Any]]:
    return [{"kCGWindowOwnerPID": 77, "kCGWindowLayer": 0, "kCGWindowName": "Other app"},
            {"kCGWindowOwnerPID": PID, "kCGWindowLayer": 25, "kCGWindowName": "Menu"},
            {"kCGWindowOwnerPID": PID, "kCGWindowLayer": 0, "kCGWindowName": "Apple (Top)"}]


def test_titles_come_from_accessibility_else_the_window_list():
    api = FakeMac(windows=windows())
    info = MacProbe(api).active_window()
    assert (info.app, info.title, info.pid) == ("Safari", "Apple (Focused)", PID)
    api = FakeMac(accessibility=False, windows=windows())
    assert MacProbe(api).active_window().title == "Apple (Top)"


def test_no_permission_is_never_a_silent_empty_title(caplog):
    api = FakeMac(accessibility=False, screen=False, windows=windows())
    with caplog.at_level("WARNING"):
        probe = MacProbe(api, clock=lambda: 0.0)
        for _ in range(5):
            assert probe.active_window().title == ""
    warned = [r.getMessage() for r in caplog.records if "permissions" in r.getMessage()]
    assert len(warned) == 1, "logged once, not every sample"
    assert "window titles are NOT recorded" in warned[0]
    assert FIX_ACCESSIBILITY in warned[0] and FIX_SCREEN in warned[0]
    # and collector status says so, with the fix
    session = Session(probe, MacIdle(api), Choice("macos", "macOS", "the platform"),
                      "CGEventSourceSecondsSinceLastEventType", notes=probe.notes)
    state = {"paused": False, "spooled": 0, "dropped": 0, "published": 0,
             "session": session.info()}
    shown = "\n".join(status_lines(state))
    assert "window titles are NOT recorded" in shown and "Privacy & Security" in shown
    assert "Screen Recording" in describe(session.info())


def test_screen_recording_missing_is_said_even_with_accessibility():
    notes = permission_notes(accessibility=True, screen_recording=False)
    assert len(notes) == 1 and FIX_SCREEN in notes[0]
    notes = permission_notes(accessibility=False, screen_recording=True)
    assert len(notes) == 1 and FIX_ACCESSIBILITY in notes[0]
    assert permission_notes(True, True) == []


def test_a_permission_granted_later_is_noticed_at_the_next_check(caplog):
    now = [0.0]
    api = FakeMac(accessibility=False, screen=False, windows=windows())
    probe = MacProbe(api, clock=lambda: now[0])
    assert probe.notes and probe.active_window().title == ""
    api.screen = True
    now[0] = RECHECK_S / 2
    assert probe.active_window().title == "", "not asked again before the recheck"
    now[0] = RECHECK_S + 1
    with caplog.at_level("WARNING"):
        assert probe.active_window().title == "Apple (Top)"
    assert probe.notes == permission_notes(False, True)


def test_idle_from_the_event_source_never_negative():
    api = FakeMac(idle=181.5)
    assert MacIdle(api).idle_seconds() == 181.5
    api.idle = -1
    assert MacIdle(api).idle_seconds() == 0.0


def test_lock_and_user_switching_are_away():
    api = FakeMac()
    away = MacAway(api, wall=lambda: 1000.0, mono=lambda: 50.0)
    assert away.take_cut() is None and not away.away()
    api.locked = True
    assert away.take_cut() == 1_000_000 and away.away()
    api.locked, api.on_console = False, False
    away.take_cut()
    assert away.away(), "switched to another user"
    api.on_console = True
    away.take_cut()
    assert not away.away()


@pytest.mark.parametrize(("slept_s", "noticed"), [(600, True), (2, False)])
def test_sleep_is_noticed_on_wake_up_and_cuts_the_span_where_it_began(slept_s, noticed):
    clocks = {"wall": 1000.0, "mono": 50.0}
    away = MacAway(FakeMac(), wall=lambda: clocks["wall"], mono=lambda: clocks["mono"])
    clocks["wall"] += 1
    clocks["mono"] += 1
    assert away.take_cut() is None
    clocks["wall"] += slept_s + 1  # asleep: the monotonic clock stands still
    clocks["mono"] += 1
    assert away.take_cut() == (1_001_000 if noticed else None)
    assert away.take_cut() is None, "once"


def test_a_sleeping_mac_records_no_time_in_the_run_loop(tmp_path):
    clocks = {"wall": 2000.0, "mono": 10.0}
    api = FakeMac(windows=windows())
    settings = collector_settings({"user": "bo", "host": "mac1", "max_span": 3600,
                                   "pulsetime": 86_000}, {}, tenant="default",
                                  data_dir=tmp_path)
    spool = _Spool()
    collector = Collector(settings, probe=MacProbe(api), idle=MacIdle(api), spool=spool,
                          publisher=None, clock=lambda: clocks["wall"],
                          away=MacAway(api, wall=lambda: clocks["wall"],
                                       mono=lambda: clocks["mono"]))
    for _ in range(3):
        collector.tick()
        clocks["wall"] += 1
        clocks["mono"] += 1
    clocks["wall"] += 3600  # an hour asleep
    collector.tick()
    spans = [(e.app, e.start_ms, e.end_ms) for e in spool.events]
    # the last sample before the sleep (2002 s) is where it ends, not an hour later
    assert spans == [("Safari", 2_000_000, 2_002_000)], "the span ends when the sleep began"

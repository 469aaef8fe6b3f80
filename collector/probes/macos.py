"""macOS: the frontmost app and its window title, idle time, lock and sleep, permissions.

:class:`MacOS` is every macOS call the collector makes; :class:`PyObjC` implements it with
pyobjc (AppKit, Quartz, ApplicationServices), and the unit tests give the logic a fake
(``tests/unit/test_macos_probe.py``). This repository's CI has no macOS, so the pyobjc part
is written, not run here; the logic above it is what the tests pin down:

- **Permissions.** Window titles need one of two permissions: **Accessibility** (the
  focused window's ``AXTitle``) or **Screen Recording** (``kCGWindowName`` of the window
  list, macOS 10.15+; without it the names are simply missing, ActivityWatch issues 376
  and 557). :func:`permission_notes` says which is missing and the exact fix; the notes are
  logged once (and again when they change: permissions are checked every minute) and shown
  by ``collector status``. A missing permission never passes silently as empty titles.
- **Idle** is ``CGEventSourceSecondsSinceLastEventType`` (no input monitoring, which pynput
  would need its own permission for).
- **Lock** is polled from the session dictionary (``CGSSessionScreenIsLocked``, and
  ``kCGSSessionOnConsoleKey`` for fast user switching); **sleep** is noticed on wake-up:
  the wall clock moved on while the monotonic clock (``mach_absolute_time``) stood still,
  so the open span ends when the sleep began. Both count as away; no run loop is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from collector.probes import WindowInfo
from collector.session.away import AwayState

logger = logging.getLogger(__name__)

APP = "deskpulse-collector"
RESTART = "launchctl kickstart -k gui/$(id -u)/com.deskpulse.collector"
FIX_ACCESSIBILITY = (f"System Settings > Privacy & Security > Accessibility: turn on {APP}, "
                     f"then restart it ({RESTART})")
FIX_SCREEN = (f"System Settings > Privacy & Security > Screen Recording (Screen & System "
              f"Audio Recording on macOS 15): turn on {APP}, then restart it ({RESTART})")
#: how often the permissions are checked again (a grant needs a restart to take effect)
RECHECK_S = 60.0
#: a wall-clock jump of more than this beyond the monotonic clock is a sleep
SLEEP_GAP_S = 5.0

LOCKED, SWITCHED, ASLEEP = ("screen locked (macOS)", "user switched out (macOS)",
                            "asleep (sleep)")


class MacOS(Protocol):
    """The macOS calls the probe, the idle source and the away watch make."""

    def frontmost_app(self) -> tuple[int, str] | None:
        """(pid, localized name) of the frontmost application, None when there is none."""
        ...

    def window_list(self) -> list[dict[str, Any]]:
        """``CGWindowListCopyWindowInfo(OnScreenOnly)`` as dicts."""
        ...

    def focused_window_title(self, pid: int) -> str | None:
        """``AXTitle`` of the app's ``AXFocusedWindow``; None when it cannot be read."""
        ...

    def executable(self, pid: int) -> str: ...
    def accessibility_trusted(self) -> bool: ...
    def screen_recording_allowed(self) -> bool: ...
    def seconds_since_input(self) -> float: ...
    def session(self) -> dict[str, Any]: ...


def permission_notes(accessibility: bool, screen_recording: bool) -> list[str]:
    """What the missing permissions cost and how to grant them (empty: nothing missing)."""
    if accessibility and screen_recording:
        return []
    if not accessibility and not screen_recording:
        return [f"window titles are NOT recorded: {APP} has neither the Accessibility nor "
                f"the Screen Recording permission (fix: {FIX_ACCESSIBILITY}; or {FIX_SCREEN})"]
    if not accessibility:
        return [f"Accessibility is not allowed: titles come from the window list (Screen "
                f"Recording), which can name another window of the app than the focused "
                f"one (fix: {FIX_ACCESSIBILITY})"]
    return [f"Screen Recording is not allowed: titles come from Accessibility only, and "
            f"apps that do not expose AXTitle have none (fix: {FIX_SCREEN})"]


class MacProbe:
    def __init__(self, api: MacOS | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api if api is not None else PyObjC()
        self._clock = clock
        self._checked_at = -RECHECK_S
        self.accessibility = self.screen_recording = False
        self.notes: list[str] = []
        self.check_permissions()

    def check_permissions(self) -> list[str]:
        """Ask again; log the notes when they change (once, not every sample)."""
        self._checked_at = self._clock()
        self.accessibility = bool(self.api.accessibility_trusted())
        self.screen_recording = bool(self.api.screen_recording_allowed())
        notes = permission_notes(self.accessibility, self.screen_recording)
        if notes != self.notes:
            for note in notes:
                logger.warning("macOS permissions: %s", note)
            if not notes:
                logger.info("macOS permissions: Accessibility and Screen Recording allowed")
            self.notes = notes
        return notes

    def _title(self, pid: int) -> str:
        if self.accessibility:
            title = self.api.focused_window_title(pid)
            if title is not None:
                return title
        if self.screen_recording:
            for window in self.api.window_list():
                if int(window.get("kCGWindowOwnerPID", -1)) == pid and \
                        window.get("kCGWindowLayer") == 0:
                    return str(window.get("kCGWindowName") or "")
        return ""

    def active_window(self) -> WindowInfo | None:
        if self._clock() - self._checked_at >= RECHECK_S:
            self.check_permissions()
        front = self.api.frontmost_app()
        if front is None:
            return None
        pid, name = front
        return WindowInfo(app=name or "unknown", exe=self.api.executable(pid),
                          title=self._title(pid), pid=pid)

    def close(self) -> None:
        return None


class MacIdle:
    def __init__(self, api: MacOS) -> None:
        self.api = api

    def idle_seconds(self) -> float:
        return max(0.0, float(self.api.seconds_since_input()))

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class MacAway:
    """Lock and user switching polled from the session, sleep noticed on wake-up."""

    name = "session dictionary (lock, user switch) + clock gap (sleep)"

    def __init__(self, api: MacOS, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.api, self._wall, self._mono = api, wall, mono
        self.state = AwayState(clock=wall)
        self._last_wall = wall()
        self._offset = self._last_wall - mono()

    def poll(self) -> None:
        wall = self._wall()
        offset = wall - self._mono()
        if offset - self._offset > SLEEP_GAP_S:  # the wall clock ran on while we slept
            self.state.passed(ASLEEP, int(self._last_wall * 1000))
        self._offset, self._last_wall = offset, wall
        session = self.api.session()
        self.state.set(LOCKED, bool(session.get("CGSSessionScreenIsLocked", False)))
        self.state.set(SWITCHED, not session.get("kCGSSessionOnConsoleKey", True))

    def take_cut(self) -> int | None:
        self.poll()  # asked first by every tick: the state is fresh for away() below
        return self.state.take_cut()

    def away(self) -> bool:
        return self.state.away()

    def close(self) -> None:
        return None


def open_macos(choice) -> object:  # collector.probes.select.Session
    from collector.probes.select import Session
    api = PyObjC()
    probe = MacProbe(api)
    return Session(probe, MacIdle(api), choice, "CGEventSourceSecondsSinceLastEventType",
                   away=MacAway(api), notes=probe.notes)


# -- pyobjc: macOS only, not run by this repository's CI -----------------------------------


class PyObjC:  # pragma: no cover - needs macOS
    """:class:`MacOS` with pyobjc."""

    def __init__(self) -> None:
        from collector.probes import ProbeUnavailable
        try:
            import ApplicationServices  # type: ignore[import-not-found]
            import Quartz  # type: ignore[import-not-found]
            from AppKit import NSWorkspace  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ProbeUnavailable("the macOS probe needs pyobjc", hint="the packaged "
                                   "collector has it; from source: pip install "
                                   "pyobjc-framework-Quartz pyobjc-framework-ApplicationServices"
                                   ) from exc
        self._ax, self._q, self._workspace = ApplicationServices, Quartz, NSWorkspace

    def frontmost_app(self) -> tuple[int, str] | None:
        app = self._workspace.sharedWorkspace().frontmostApplication()
        if app is None:
            return None
        return int(app.processIdentifier()), str(app.localizedName() or "")

    def window_list(self) -> list[dict[str, Any]]:
        q = self._q
        return [dict(w) for w in q.CGWindowListCopyWindowInfo(
            q.kCGWindowListOptionOnScreenOnly | q.kCGWindowListExcludeDesktopElements,
            q.kCGNullWindowID) or []]

    def focused_window_title(self, pid: int) -> str | None:
        ax = self._ax
        app = ax.AXUIElementCreateApplication(pid)
        err, window = ax.AXUIElementCopyAttributeValue(app, ax.kAXFocusedWindowAttribute, None)
        if err or window is None:
            return None
        err, title = ax.AXUIElementCopyAttributeValue(window, ax.kAXTitleAttribute, None)
        return None if err else str(title or "")

    def executable(self, pid: int) -> str:
        from collector.probes.process import describe_process
        return describe_process(pid)[1]

    def accessibility_trusted(self) -> bool:
        return bool(self._ax.AXIsProcessTrusted())

    def screen_recording_allowed(self) -> bool:
        preflight = getattr(self._q, "CGPreflightScreenCaptureAccess", None)
        return True if preflight is None else bool(preflight())  # before 10.15: no such gate

    def seconds_since_input(self) -> float:
        q = self._q
        return float(q.CGEventSourceSecondsSinceLastEventType(
            q.kCGEventSourceStateCombinedSessionState, q.kCGAnyInputEventType))

    def session(self) -> dict[str, Any]:
        return dict(self._q.CGSessionCopyCurrentDictionary() or {})

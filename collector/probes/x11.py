"""Linux / X11 probe: EWMH ``_NET_ACTIVE_WINDOW``, ``_NET_WM_NAME``, ``_NET_WM_PID``, WM_CLASS.

Failure modes of X11 watchers are handled on purpose (cf. ActivityWatch
aw-watcher-window #33, #89; python-xlib #241):

- the active window closes between two queries -> ``BadWindow``/``BadDrawable``:
  that sample is skipped (``None``);
- the X server goes away (logout, crash) -> :class:`ProbeLost`, never a spin;
- every query carries its own error handler, so python-xlib never prints and
  continues in a loop;
- a sample asks the server only after a property event of the root or the active
  window (or every ``REQUERY_S``): the rest of the time it costs no round trip.

Idle time comes from the X server itself (:class:`X11Idle`, the MIT-SCREEN-SAVER
extension's idle counter, on the probe's own connection): no input listener, no
keyboard or pointer event ever reaches the collector. Where a server lacks the
extension, the session falls back to pynput's listeners (:mod:`collector.idle`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from Xlib import X, Xatom, display, error

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process

logger = logging.getLogger(__name__)

_GONE = (error.BadWindow, error.BadDrawable, error.BadMatch, error.BadValue)


#: a missed property event leaves a stale window for at most this long (then it is asked)
REQUERY_S = 30.0


class X11Probe:
    """The active window, asked when the X server says it changed.

    The probe listens to PropertyNotify of the root window (``_NET_ACTIVE_WINDOW``) and of
    the active window (its title, class, pid) and to its DestroyNotify; a sample reads the
    events that came and asks the server only after one of them (or every
    :data:`REQUERY_S`), otherwise it is the window it last read. Events arrive on the
    connection that the idle query uses each second anyway.
    """

    def __init__(self, display_name: str, requery_s: float = REQUERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self._d = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise ProbeUnavailable(f"cannot open X display {display_name!r}: {exc}",
                                   hint="is the X server running, and DISPLAY right?") from exc
        self._root = self._d.screen().root
        self._a = {name: self._d.intern_atom(name) for name in
                   ("_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "_NET_WM_PID", "UTF8_STRING")}
        self._watched = {self._a["_NET_WM_NAME"], Xatom.WM_NAME, Xatom.WM_CLASS,
                         self._a["_NET_WM_PID"]}
        self._requery_s, self._clock = requery_s, clock
        self._asked = -requery_s  # when the window was last asked (monotonic)
        self._window: object | None = None  # the active window whose events we get
        self._info: WindowInfo | None = None
        self._fresh = False
        self._root.change_attributes(event_mask=X.PropertyChangeMask)

    def _prop(self, window: object, atom: int, kind: int) -> list | bytes | str | None:
        prop = window.get_full_property(atom, kind)  # type: ignore[attr-defined]
        return prop.value if prop is not None else None

    def _changed(self) -> bool:
        """Read the events that came; True when one of them concerns the active window."""
        changed = False
        active = getattr(self._window, "id", None)
        while self._d.pending_events():
            event = self._d.next_event()
            if event.type == X.PropertyNotify:
                if event.window.id == self._root.id:
                    changed |= event.atom == self._a["_NET_ACTIVE_WINDOW"]
                elif event.window.id == active:
                    changed |= event.atom in self._watched
            elif event.type == X.DestroyNotify and event.window.id == active:
                changed = True
        return changed

    def active_window(self) -> WindowInfo | None:
        try:
            changed = self._changed()
            if self._fresh and not changed and \
                    self._clock() - self._asked < self._requery_s:
                return self._info
            self._fresh = False
            self._asked = self._clock()
            info = self._ask()
        except _GONE:
            return None  # closed between two queries: skip this sample (and ask again)
        except (error.ConnectionClosedError, OSError) as exc:
            raise ProbeLost(f"the X server went away: {exc}") from exc
        self._info, self._fresh = info, info is not None
        return info

    def _follow(self, window: object | None) -> None:
        """Events of ``window`` from now on, none of the one before (errors: it is gone)."""
        if getattr(window, "id", None) == getattr(self._window, "id", None):
            return
        ignore = error.CatchError()
        if self._window is not None:
            self._window.change_attributes(event_mask=0, onerror=ignore)  # type: ignore
        if window is not None:
            window.change_attributes(  # type: ignore[attr-defined]
                event_mask=X.PropertyChangeMask | X.StructureNotifyMask, onerror=ignore)
        self._window = window

    def _ask(self) -> WindowInfo | None:
        value = self._prop(self._root, self._a["_NET_ACTIVE_WINDOW"], X.AnyPropertyType)
        if not value or not value[0]:
            self._follow(None)
            return None
        window = self._d.create_resource_object("window", int(value[0]))
        self._follow(window)  # before reading: a change from now on is an event
        raw_title = self._prop(window, self._a["_NET_WM_NAME"], self._a["UTF8_STRING"])
        if raw_title is None:
            raw_title = self._prop(window, Xatom.WM_NAME, X.AnyPropertyType)
        pid_value = self._prop(window, self._a["_NET_WM_PID"], Xatom.CARDINAL)
        wm_class = window.get_wm_class()  # type: ignore[attr-defined]
        title = raw_title.decode("utf-8", "replace") if isinstance(raw_title, bytes) \
            else (raw_title or "")
        pid = int(pid_value[0]) if pid_value else 0
        name, exe = describe_process(pid)
        app = (wm_class[1] if wm_class and wm_class[1] else name) or "unknown"
        return WindowInfo(app=app, exe=exe, title=title, pid=pid)

    def close(self) -> None:
        with contextlib.suppress(error.ConnectionClosedError, OSError):
            self._d.close()


class X11Idle:
    """Seconds since the last input, as the X server counts them (MIT-SCREEN-SAVER).

    Asked from the sampling thread right after :meth:`X11Probe.active_window`, on the
    probe's connection (python-xlib is not thread-safe; this is the probe's thread).
    Counted from the collector's start at most, as the input listeners counted: a
    person is not idle at the first sample because the server saw no input before.

    With ``threshold_s`` (the collector's idle threshold) the server is asked only when
    the answer can matter: idle time grows by at most a second a second, so after an
    answer of ``i`` seconds it cannot reach the threshold for ``threshold_s - i`` seconds.
    Until then :meth:`idle_seconds` returns that upper bound (below the threshold, so the
    sample is active, as it is); from there on, and while idle, every sample asks.
    """

    def __init__(self, probe: X11Probe, clock: Callable[[], float] = time.monotonic,
                 threshold_s: float | None = None) -> None:
        self._root = probe._root
        self._clock = clock
        self._started = clock()
        self._threshold_s = threshold_s
        self._known: tuple[float, float] | None = None  # (answer, when), while below

    @staticmethod
    def available(probe: X11Probe) -> bool:
        return bool(probe._d.has_extension("MIT-SCREEN-SAVER"))

    def idle_seconds(self) -> float:
        now = self._clock()
        if self._known is not None:
            bound = self._known[0] + (now - self._known[1])
            if self._threshold_s is not None and bound < self._threshold_s:
                return bound
        since_start = max(0.0, now - self._started)
        try:
            server_ms = self._root.screensaver_query_info().idle
        except (*_GONE, error.XError):
            self._known = None
            return 0.0  # no answer this time: active, as the next sample may tell otherwise
        except (error.ConnectionClosedError, OSError) as exc:
            raise ProbeLost(f"the X server went away: {exc}") from exc
        idle = min(since_start, server_ms / 1000.0)
        self._known = (idle, now)
        return idle

    def start(self) -> None:
        self._started = self._clock()
        self._known = None

    def stop(self) -> None:
        """Nothing to stop: the probe owns (and closes) the connection."""

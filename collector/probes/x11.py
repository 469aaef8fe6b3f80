"""Linux / X11 probe: EWMH ``_NET_ACTIVE_WINDOW``, ``_NET_WM_NAME``, ``_NET_WM_PID``, WM_CLASS.

Failure modes of X11 watchers are handled on purpose (cf. ActivityWatch
aw-watcher-window #33, #89; python-xlib #241):

- the active window closes between two queries -> ``BadWindow``/``BadDrawable``:
  that sample is skipped (``None``);
- the X server goes away (logout, crash) -> :class:`ProbeLost`, never a spin;
- every query carries its own error handler, so python-xlib never prints and
  continues in a loop.

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


class X11Probe:
    def __init__(self, display_name: str) -> None:
        try:
            self._d = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise ProbeUnavailable(f"cannot open X display {display_name!r}: {exc}",
                                   hint="is the X server running, and DISPLAY right?") from exc
        self._root = self._d.screen().root
        self._a = {name: self._d.intern_atom(name) for name in
                   ("_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "_NET_WM_PID", "UTF8_STRING")}

    def _prop(self, window: object, atom: int, kind: int) -> list | bytes | str | None:
        prop = window.get_full_property(atom, kind)  # type: ignore[attr-defined]
        return prop.value if prop is not None else None

    def active_window(self) -> WindowInfo | None:
        try:
            value = self._prop(self._root, self._a["_NET_ACTIVE_WINDOW"], X.AnyPropertyType)
            if not value or not value[0]:
                return None
            window = self._d.create_resource_object("window", int(value[0]))
            raw_title = self._prop(window, self._a["_NET_WM_NAME"], self._a["UTF8_STRING"])
            if raw_title is None:
                raw_title = self._prop(window, Xatom.WM_NAME, X.AnyPropertyType)
            pid_value = self._prop(window, self._a["_NET_WM_PID"], Xatom.CARDINAL)
            wm_class = window.get_wm_class()  # type: ignore[attr-defined]
        except _GONE:
            return None  # closed between two queries: skip this sample
        except (error.ConnectionClosedError, OSError) as exc:
            raise ProbeLost(f"the X server went away: {exc}") from exc
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
    """

    def __init__(self, probe: X11Probe, clock: Callable[[], float] = time.monotonic) -> None:
        self._root = probe._root
        self._clock = clock
        self._started = clock()

    @staticmethod
    def available(probe: X11Probe) -> bool:
        return bool(probe._d.has_extension("MIT-SCREEN-SAVER"))

    def idle_seconds(self) -> float:
        since_start = max(0.0, self._clock() - self._started)
        try:
            server_ms = self._root.screensaver_query_info().idle
        except (*_GONE, error.XError):
            return 0.0  # no answer this time: active, as the next sample may tell otherwise
        except (error.ConnectionClosedError, OSError) as exc:
            raise ProbeLost(f"the X server went away: {exc}") from exc
        return min(since_start, server_ms / 1000.0)

    def start(self) -> None:
        self._started = self._clock()

    def stop(self) -> None:
        """Nothing to stop: the probe owns (and closes) the connection."""

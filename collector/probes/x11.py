"""Linux / X11 probe: EWMH ``_NET_ACTIVE_WINDOW``, ``_NET_WM_NAME``, ``_NET_WM_PID``, WM_CLASS.

Failure modes of X11 watchers are handled on purpose (cf. ActivityWatch
aw-watcher-window #33, #89; python-xlib #241):

- the active window closes between two queries -> ``BadWindow``/``BadDrawable``:
  that sample is skipped (``None``);
- the X server goes away (logout, crash) -> :class:`ProbeLost`, never a spin;
- every query waits for its own answer or error (:mod:`collector.probes.xproto`, a
  few requests of the core protocol on a socket of its own; python-xlib, which weighs
  about 2 MB of the collector's RSS, is not loaded), so no error is printed or looped on.

Idle time comes from the X server itself (:class:`X11Idle`, the MIT-SCREEN-SAVER
extension's idle counter, on the probe's own connection): no input listener, no
keyboard or pointer event ever reaches the collector. Where a server lacks the
extension, the session falls back to pynput's listeners (:mod:`collector.idle`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process
from collector.probes.xproto import (
    BAD_DRAWABLE,
    BAD_MATCH,
    BAD_VALUE,
    BAD_WINDOW,
    CARDINAL,
    WM_CLASS,
    WM_NAME,
    Connection,
    XDisplayError,
    XError,
)

logger = logging.getLogger(__name__)

#: the window went away between two queries (or never had what was asked)
_GONE = (BAD_WINDOW, BAD_DRAWABLE, BAD_MATCH, BAD_VALUE)


def split_wm_class(raw: bytes) -> tuple[str, str] | None:
    """WM_CLASS's ``(instance, class)`` (two NUL-terminated strings), None if not two."""
    parts = raw.split(b"\0")
    if len(parts) < 2:
        return None
    return parts[0].decode("latin-1"), parts[1].decode("latin-1")


class X11Probe:
    def __init__(self, display_name: str) -> None:
        try:
            self._d = Connection(display_name)
            self._root = self._d.root
            self._a = {name: self._d.intern_atom(name) for name in
                       ("_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "_NET_WM_PID", "UTF8_STRING")}
        except (XDisplayError, XError, OSError) as exc:
            if hasattr(self, "_d"):
                self._d.close()
            raise ProbeUnavailable(f"cannot open X display {display_name!r}: {exc}",
                                   hint="is the X server running, and DISPLAY right?") from exc

    def _text(self, window: int, atom: int, kind: int = 0) -> bytes | None:
        got = self._d.get_property(window, atom, kind)
        return got[2] if got is not None and got[1] == 8 else None

    def active_window(self) -> WindowInfo | None:
        try:
            active = self._d.get_cardinals(self._root, self._a["_NET_ACTIVE_WINDOW"])
            if not active or not active[0]:
                return None
            window = active[0]
            raw_title = self._text(window, self._a["_NET_WM_NAME"], self._a["UTF8_STRING"])
            if raw_title is None:
                raw_title = self._text(window, WM_NAME)
            pid_value = self._d.get_cardinals(window, self._a["_NET_WM_PID"], CARDINAL)
            raw_class = self._text(window, WM_CLASS)
        except XError as exc:
            if exc.code not in _GONE:
                logger.warning("X11 probe: %s; sample skipped", exc)
            return None  # closed between two queries: skip this sample
        except OSError as exc:  # XConnectionLost
            raise ProbeLost(f"the X server went away: {exc}") from exc
        title = (raw_title or b"").decode("utf-8", "replace")
        pid = pid_value[0] if pid_value else 0
        name, exe = describe_process(pid)
        wm_class = split_wm_class(raw_class) if raw_class is not None else None
        app = (wm_class[1] if wm_class and wm_class[1] else name) or "unknown"
        return WindowInfo(app=app, exe=exe, title=title, pid=pid)

    def close(self) -> None:
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
        self._d, self._root = probe._d, probe._root
        self._clock = clock
        self._started = clock()
        self._threshold_s = threshold_s
        self._known: tuple[float, float] | None = None  # (answer, when), while below

    @staticmethod
    def available(probe: X11Probe) -> bool:
        try:
            return probe._d.extension_opcode("MIT-SCREEN-SAVER") is not None
        except (XError, OSError):
            return False

    def idle_seconds(self) -> float:
        now = self._clock()
        if self._known is not None:
            bound = self._known[0] + (now - self._known[1])
            if self._threshold_s is not None and bound < self._threshold_s:
                return bound
        since_start = max(0.0, now - self._started)
        try:
            server_ms = self._d.screensaver_idle_ms(self._root)
        except XError:
            self._known = None
            return 0.0  # no answer this time: active, as the next sample may tell otherwise
        except OSError as exc:  # XConnectionLost
            raise ProbeLost(f"the X server went away: {exc}") from exc
        idle = min(since_start, server_ms / 1000.0)
        self._known = (idle, now)
        return idle

    def start(self) -> None:
        self._started = self._clock()

    def stop(self) -> None:
        """Nothing to stop: the probe owns (and closes) the connection."""

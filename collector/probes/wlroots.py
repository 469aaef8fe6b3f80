"""wlroots compositors (sway, Hyprland, river, labwc...): foreground window and idle.

- Window: ``zwlr_foreign_toplevel_manager_v1`` announces every toplevel with its
  ``app_id``, ``title`` and ``state``; the one whose committed state (after ``done``)
  contains *activated* is the foreground window. XWayland windows are toplevels too
  (their app id is the X11 class), so X11 apps are seen through this probe.
- Idle: the compositor tells when nobody has touched keyboard or pointer for the
  threshold (``ext_idle_notifier_v1``, or ``org_kde_kwin_idle`` on older wlroots such as
  sway 1.7) and when input resumes. Only *that* input happened is learned, never which.

One thread reads the Wayland socket; :meth:`active_window` and :meth:`idle_seconds`
only read the state it keeps. A compositor that goes away is :class:`ProbeLost`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.wire import Connection

logger = logging.getLogger(__name__)

TOPLEVEL_MANAGER = "zwlr_foreign_toplevel_manager_v1"
EXT_IDLE = "ext_idle_notifier_v1"
KDE_IDLE = "org_kde_kwin_idle"
ACTIVATED = 2  # zwlr_foreign_toplevel_handle_v1.state


@dataclass
class _Toplevel:
    title: str = ""
    app_id: str = ""
    activated: bool = False
    pending_title: str | None = None
    pending_app_id: str | None = None
    pending_activated: bool | None = None

    def commit(self) -> None:
        if self.pending_title is not None:
            self.title = self.pending_title
        if self.pending_app_id is not None:
            self.app_id = self.pending_app_id
        if self.pending_activated is not None:
            self.activated = self.pending_activated
        self.pending_title = self.pending_app_id = self.pending_activated = None


def activated_in(state: bytes) -> bool:
    """Whether a ``state`` array (native-endian uint32 values) contains *activated*."""
    count = len(state) // 4
    return ACTIVATED in struct.unpack(f"={count}I", state[:count * 4])


class WlrootsIdle:
    """Idle time as the compositor reports it (the collector's IdleSource)."""

    def __init__(self, threshold_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold_s = threshold_s
        self._clock = clock
        self._idle_since: float | None = None

    def idled(self) -> None:
        self._idle_since = self._clock() - self.threshold_s

    def resumed(self) -> None:
        self._idle_since = None

    def idle_seconds(self) -> float:
        """0 while active; since the last input once the compositor said idle."""
        since = self._idle_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def start(self) -> None:  # the Wayland thread of the probe feeds it
        pass

    def stop(self) -> None:
        pass


class WlrootsProbe:
    """Foreground window (and, through :attr:`idle`, idle) from a wlroots compositor."""

    def __init__(self, env: dict[str, str], idle_threshold_s: float = 180.0,
                 timeout: float = 5.0, toplevels: bool = True) -> None:
        """``toplevels=False``: only the idle protocol (KWin, whose windows come otherwise)."""
        self._want_toplevels = toplevels
        self._conn = Connection(env, timeout=timeout)
        self._lock = threading.Lock()
        self._toplevels: dict[int, _Toplevel] = {}
        self._globals: dict[str, tuple[int, int]] = {}
        self._lost: ProbeLost | None = None
        self._stop = threading.Event()
        self.idle = WlrootsIdle(idle_threshold_s)
        self.idle_protocol = ""
        try:
            self._registry = self._conn.get_registry(self._on_registry)
            self._conn.roundtrip(timeout)
            self._bind(idle_threshold_s)
            self._conn.roundtrip(timeout)  # the toplevels that exist now
        except ProbeLost as exc:
            self._conn.close()
            raise ProbeUnavailable(f"the Wayland compositor closed the connection: {exc}") from exc
        except ProbeUnavailable:
            self._conn.close()
            raise
        self._thread = threading.Thread(target=self._loop, name="wayland", daemon=True)
        self._thread.start()

    @property
    def globals(self) -> set[str]:
        return set(self._globals)

    def _on_registry(self, _obj: int, opcode: int, args: list) -> None:
        if opcode == 0:
            name, interface, version = args
            self._globals[interface] = (name, version)

    def _bind(self, idle_threshold_s: float) -> None:
        if not self._want_toplevels:
            pass
        elif TOPLEVEL_MANAGER not in self._globals:
            raise ProbeUnavailable(
                "this Wayland compositor does not offer wlr-foreign-toplevel-management "
                f"(it offers {len(self._globals)} other protocols), so the foreground window "
                "cannot be read", hint="on GNOME or KDE the collector uses their own probe; "
                "set collector probe = \"gnome\" or \"kde\" if detection picked the wrong one")
        else:
            name, version = self._globals[TOPLEVEL_MANAGER]
            self._conn.bind(self._registry, name, TOPLEVEL_MANAGER, min(version, 3),
                            self._on_manager)
        seat = None
        if "wl_seat" in self._globals:
            name, _ = self._globals["wl_seat"]
            seat = self._conn.bind(self._registry, name, "wl_seat", 1)
        timeout_ms = max(1, int(idle_threshold_s * 1000))
        if seat is not None and EXT_IDLE in self._globals:
            name, _ = self._globals[EXT_IDLE]
            notifier = self._conn.bind(self._registry, name, EXT_IDLE, 1)
            nid = self._conn.new_id("ext_idle_notification_v1")
            self._conn.handlers[nid] = self._on_idle
            self._conn.send(notifier, 1, struct.pack("<III", nid, timeout_ms, seat))
            self.idle_protocol = "ext-idle-notify-v1"
        elif seat is not None and KDE_IDLE in self._globals:
            name, _ = self._globals[KDE_IDLE]
            kde = self._conn.bind(self._registry, name, KDE_IDLE, 1)
            tid = self._conn.new_id("org_kde_kwin_idle_timeout")
            self._conn.handlers[tid] = self._on_idle
            self._conn.send(kde, 0, struct.pack("<III", tid, seat, timeout_ms))
            self.idle_protocol = "org_kde_kwin_idle"

    def _on_idle(self, _obj: int, opcode: int, _args: list) -> None:
        if opcode == 0:
            self.idle.idled()
        else:
            self.idle.resumed()

    def _on_manager(self, _obj: int, opcode: int, args: list) -> None:
        if opcode == 0:
            handle = args[0]
            with self._lock:
                self._toplevels[handle] = _Toplevel()
            self._conn.handlers[handle] = self._on_toplevel
        elif opcode == 1:
            logger.warning("the compositor stopped the foreign-toplevel manager")

    def _on_toplevel(self, obj: int, opcode: int, args: list) -> None:
        with self._lock:
            top = self._toplevels.get(obj)
            if top is None:
                return
            if opcode == 0:
                top.pending_title = args[0]
            elif opcode == 1:
                top.pending_app_id = args[0]
            elif opcode == 4:
                top.pending_activated = activated_in(args[0])
            elif opcode == 5:
                top.commit()
            elif opcode == 6:
                del self._toplevels[obj]
                self._conn.send(obj, 7)  # destroy the handle

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._conn.wait_readable(60.0):  # close() shuts the socket down
                    self._conn.read()
            except ProbeLost as exc:
                self._lost = exc
                return
            except (OSError, ValueError) as exc:  # socket closed under us by close()
                if not self._stop.is_set():
                    self._lost = ProbeLost(f"the Wayland connection failed: {exc}")
                return

    def active_window(self) -> WindowInfo | None:
        if self._lost is not None:
            raise self._lost
        with self._lock:
            top = next((t for t in self._toplevels.values() if t.activated), None)
            if top is None:
                return None
            return WindowInfo(app=top.app_id or "unknown", exe="", title=top.title, pid=0)

    def describe(self) -> str:
        return f"wlroots foreign-toplevel, idle from {self.idle_protocol or 'nothing'}"

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the waiting thread
        if self._thread.is_alive():
            self._thread.join(2)
        self._conn.close()

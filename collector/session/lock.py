"""Locked screen and suspended machine count as away, on X11 and Wayland alike.

Sources, each optional (whatever the session offers is used):

- logind (system bus): the session's ``LockedHint`` (set by the screen locker) and
  the manager's ``PrepareForSleep(true/false)`` around suspend and hibernate;
- the screensaver (session bus): ``ActiveChanged(b)`` of ``org.gnome.ScreenSaver``
  (GNOME Shell) or ``org.freedesktop.ScreenSaver`` (KDE, others).

:class:`AwayState` (``collector.session.away``, shared with Windows and macOS) is the
pure part: the collector asks :meth:`AwayState.away` every sample (nothing is recorded while
away) and :meth:`AwayState.take_cut` for the moment an away period began, once, so the open
span ends there — even when the period was already over by the next sample (a short
suspend).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

from jeepney import HeaderFields, MatchRule

from collector.probes import ProbeUnavailable
from collector.session.away import AwayState
from collector.session.dbus import DBusErrorResponse, call, close_listener, connect, get_property

logger = logging.getLogger(__name__)

LOGIN1 = "org.freedesktop.login1"
SCREENSAVERS = (  # (bus name, path, interface): GNOME Shell, its own name, freedesktop
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("org.gnome.Shell.ScreenShield", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver",
     "org.freedesktop.ScreenSaver"),
)


class _Watch:
    """One bus connection and its reader thread."""

    def __init__(self, state: AwayState, conn, rules: list[MatchRule], name: str) -> None:
        self.state, self._conn, self.name = state, conn, name
        for rule in rules:
            call(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                 "AddMatch", "s", (rule.serialise(),))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"away-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._conn.receive()  # no timed wake-ups: close() shuts the socket down
            except (OSError, ValueError) as exc:
                if not self._stop.is_set():
                    logger.warning("the %s watch lost its bus: %s", self.name, exc)
                return
            with contextlib.suppress(Exception):  # a malformed signal is skipped, not fatal
                self.on_signal(msg)

    def on_signal(self, msg) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        close_listener(self._conn, self._thread)


def _member(msg) -> tuple[str, str, str]:
    fields = msg.header.fields
    return (fields.get(HeaderFields.path, ""), fields.get(HeaderFields.interface, ""),
            fields.get(HeaderFields.member, ""))


class LogindWatch(_Watch):
    """``LockedHint`` of this session and ``PrepareForSleep`` of the machine."""

    def __init__(self, state: AwayState, env: dict[str, str]) -> None:
        conn = connect(env, "SYSTEM")
        try:
            self.session = self._session_path(conn, env)
            rules = [MatchRule(type="signal", sender=LOGIN1, interface=f"{LOGIN1}.Manager",
                               member="PrepareForSleep", path="/org/freedesktop/login1")]
            if self.session:
                rules.append(MatchRule(type="signal", sender=LOGIN1, path=self.session,
                                       interface="org.freedesktop.DBus.Properties",
                                       member="PropertiesChanged"))
            super().__init__(state, conn, rules, "logind")
            if self.session and get_property(conn, LOGIN1, self.session,
                                              f"{LOGIN1}.Session", "LockedHint"):
                state.set("screen locked (logind)", True)
        except (DBusErrorResponse, TimeoutError, OSError) as exc:
            conn.close()
            raise ProbeUnavailable(f"logind does not answer: {exc}") from exc

    @staticmethod
    def _session_path(conn, env: dict[str, str]) -> str:
        """This desktop's logind session: XDG_SESSION_ID, else the one holding this process."""
        manager = ("org.freedesktop.login1", "/org/freedesktop/login1", f"{LOGIN1}.Manager")
        with contextlib.suppress(DBusErrorResponse, TimeoutError):
            if env.get("XDG_SESSION_ID"):
                return call(conn, *manager, "GetSession", "s", (env["XDG_SESSION_ID"],))[0]
            return call(conn, *manager, "GetSessionByPID", "u", (os.getpid(),))[0]
        logger.info("no logind session found for this process: only suspend is watched")
        return ""

    def on_signal(self, msg) -> None:
        path, interface, member = _member(msg)
        if member == "PrepareForSleep":
            self.state.set("asleep (suspend)", bool(msg.body[0]))
        elif member == "PropertiesChanged" and path == self.session:
            iface, changed, _ = msg.body
            if iface == f"{LOGIN1}.Session" and "LockedHint" in changed:
                self.state.set("screen locked (logind)", bool(changed["LockedHint"][1]))

    @property
    def what(self) -> str:
        return "logind " + ("LockedHint + PrepareForSleep" if self.session else
                            "PrepareForSleep (no session found)")


class ScreenSaverWatch(_Watch):
    """``ActiveChanged`` of the session's screensaver (GNOME Shell, freedesktop)."""

    def __init__(self, state: AwayState, env: dict[str, str]) -> None:
        conn = connect(env, "SESSION")
        rules = [MatchRule(type="signal", interface=iface, member="ActiveChanged")
                 for iface in ("org.gnome.ScreenSaver", "org.freedesktop.ScreenSaver")]
        super().__init__(state, conn, rules, "screensaver")
        self.found = ""
        for name, path, iface in SCREENSAVERS:
            try:
                (active,) = call(conn, name, path, iface, "GetActive", timeout=1.0)
            except (DBusErrorResponse, TimeoutError):
                continue
            self.found = name
            if active:
                state.set("screen locked (screensaver)", True)
            break

    def on_signal(self, msg) -> None:
        _, interface, member = _member(msg)
        if member == "ActiveChanged" and interface in ("org.gnome.ScreenSaver",
                                                       "org.freedesktop.ScreenSaver"):
            self.state.set("screen locked (screensaver)", bool(msg.body[0]))


class AwayWatch:
    """Every away source the session offers, feeding one :class:`AwayState`."""

    def __init__(self, env: dict[str, str], *, screensaver: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.state = AwayState(clock)
        self._watches: list[_Watch] = []
        names = []
        try:
            logind = LogindWatch(self.state, env)
            self._watches.append(logind)
            names.append(logind.what)
        except ProbeUnavailable as exc:
            logger.info("no logind to watch (%s): lock and suspend come from the "
                        "screensaver only", exc)
        if screensaver:
            try:
                saver = ScreenSaverWatch(self.state, env)
            except ProbeUnavailable as exc:
                logger.info("no session bus to watch the screensaver: %s", exc)
            else:
                self._watches.append(saver)
                names.append(f"screensaver ActiveChanged ({saver.found or 'when one appears'})")
        self.name = ", ".join(names)
        for watch in self._watches:
            watch.start()

    def away(self) -> bool:
        return self.state.away()

    def take_cut(self) -> int | None:
        return self.state.take_cut()

    def close(self) -> None:
        for watch in self._watches:
            watch.close()


def open_away_watch(env: dict[str, str], **kwargs) -> AwayWatch | None:
    """The watch, or None when neither bus is reachable (then nothing counts as away)."""
    watch = AwayWatch(env, **kwargs)
    if not watch.name:
        watch.close()
        return None
    return watch

"""GNOME Shell (Mutter, Wayland): the focused window through deskpulse's Shell extension.

GNOME offers no protocol for the focused window and ``org.gnome.Shell.Eval`` is
disabled since GNOME 41, so the collector ships a small Shell extension
(``collector/gnome_extension``: one variant for Shell 43-44, one for 45+) that
exports ``dev.deskpulse.Focus1`` on the session bus: ``Get() -> (title, app id,
WM class, pid)`` and a ``Changed`` signal. Idle time comes from
``org.gnome.Mutter.IdleMonitor`` (input is counted by Mutter; nothing here sees which
key). The probe follows ``Changed`` and Mutter's idle watches on a second bus link and
samples from memory, asking ``Get``/``GetIdletime`` again only every :data:`REQUERY_S`
(a missed signal) or when a signal source changed hands; an extension without the
signal is asked every sample. While the screen is locked GNOME disables user extensions, so
the extension's name vanishes: those samples are skipped, and the lock itself is
away time (``collector.session.lock``).

``python -m collector.probes.gnome install`` installs the extension for the user
and enables it (log out and in once on Wayland so the Shell loads it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process
from collector.session.dbus import DBusErrorResponse, call, close_listener, connect

logger = logging.getLogger(__name__)

UUID = "deskpulse-focus@deskpulse.dev"
FOCUS = ("dev.deskpulse.Focus", "/dev/deskpulse/Focus", "dev.deskpulse.Focus1")
IDLE = ("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
        "org.gnome.Mutter.IdleMonitor")
BUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
EXTENSION_DIR = Path(__file__).resolve().parent.parent / "gnome_extension"
_GONE = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
         "org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.NoReply")
ENABLE_FIX = (f"enable the deskpulse GNOME Shell extension: python -m collector.probes.gnome "
              f"install (installs {UUID} and enables it), then log out and in once")


def app_name(app_id: str, wm_class: str, exe_name: str) -> str:
    """The app as the other probes name it: WM class first, else the desktop id, else exe."""
    if wm_class:
        return wm_class
    if app_id:
        return app_id.removesuffix(".desktop")
    return exe_name or "unknown"


#: a missed signal leaves a stale window (or idle state) for at most this long: the probe
#: asks the extension and Mutter again this often even while signals keep it current
REQUERY_S = 30.0


def has_changed_signal(introspection: str) -> bool:
    """Whether the installed extension emits ``Changed`` (every shipped variant does; an
    extension without it is polled every sample instead)."""
    return re.search(r'<signal\s+name="Changed"', introspection) is not None


class Signalled:
    """A value kept current by signals, read from memory; thread-safe and pure.

    A signal sets the value (:meth:`signal`). The sampling thread asks :meth:`due` whether
    to read the value by a method call instead (at the start, after :meth:`invalidate`, and
    every ``requery_s`` in any case, so a missed signal cannot leave it stale for longer),
    and hands the answer to :meth:`queried` with the generation :meth:`due` gave: an answer
    that a signal overtook meanwhile is older than the signal and is dropped.
    """

    def __init__(self, requery_s: float, clock: Callable[[], float] = time.monotonic,
                 value: Any = None) -> None:
        self._lock = threading.Lock()
        self._requery_s, self._clock = requery_s, clock
        self._value, self._gen = value, 0
        self._stale, self._checked = True, -math.inf
        self.missed = 0  # re-queries that found what a signal should have told

    @property
    def value(self) -> Any:
        return self._value

    def signal(self, value: Any) -> None:
        with self._lock:
            self._value, self._gen, self._stale = value, self._gen + 1, False

    def invalidate(self) -> None:
        """The source changed hands (the extension restarted, the Shell came back)."""
        with self._lock:
            self._gen, self._stale = self._gen + 1, True

    def due(self) -> int | None:
        """The generation to pass to :meth:`queried` when a method call is due, else None."""
        with self._lock:
            if self._stale or self._clock() - self._checked >= self._requery_s:
                return self._gen
            return None

    def queried(self, gen: int, value: Any, *, ok: bool = True) -> None:
        """The answer of a method call started at generation ``gen``; ``ok=False``: none came
        (the value is asked again at the next sample)."""
        with self._lock:
            self._checked = self._clock()
            if gen != self._gen:
                return  # a signal came in the meantime: it is newer than this answer
            if not ok:
                self._stale = True
                return
            if not self._stale and value != self._value:
                self.missed += 1
                logger.info("a re-query found a change no signal told (%d so far)", self.missed)
            self._value, self._stale = value, False


class _SignalThread:
    """The probe's second bus link: reads ``Changed``, ``WatchFired`` and name changes."""

    def __init__(self, probe: GnomeProbe, env: dict[str, str]) -> None:
        self._probe = probe
        self._conn = connect(env, "SESSION")
        self.idle_watch = self._active_watch = 0
        self._pending_active: int | None = None  # serial of an AddUserActiveWatch call
        self._pending_idle: int | None = None  # serial of an AddIdleWatch call (new Mutter)
        self.owners: dict[str, str] = {}
        rules = [MatchRule(type="signal", sender=FOCUS[0], path=FOCUS[1], interface=FOCUS[2],
                           member="Changed"),
                 MatchRule(type="signal", sender=IDLE[0], path=IDLE[1], interface=IDLE[2],
                           member="WatchFired")]
        for name in (FOCUS[0], IDLE[0]):
            rule = MatchRule(type="signal", sender=BUS[0], path=BUS[1], interface=BUS[2],
                             member="NameOwnerChanged")
            rule.add_arg_condition(0, name)
            rules.append(rule)
        try:
            for rule in rules:
                call(self._conn, *BUS, "AddMatch", "s", (rule.serialise(),))
            for name in (FOCUS[0], IDLE[0]):
                self.owners[name] = call(self._conn, *BUS, "GetNameOwner", "s", (name,))[0]
        except (DBusErrorResponse, TimeoutError, OSError):
            self._conn.close()
            raise
        self._thread = threading.Thread(target=self._loop, name="gnome-signals", daemon=True)

    def add_idle_watch(self, threshold_ms: int) -> None:
        """Mutter's watches belong to this link: ``WatchFired`` comes to it."""
        self.idle_watch = int(call(self._conn, *IDLE, "AddIdleWatch", "t", (threshold_ms,))[0])

    def add_active_watch(self) -> None:
        msg = new_method_call(DBusAddress(IDLE[1], bus_name=IDLE[0], interface=IDLE[2]),
                              "AddUserActiveWatch")
        self._pending_active = self._send(msg)

    def _send(self, msg) -> int:
        """Send without waiting (from the loop's thread); returns the serial of the reply."""
        serial = next(self._conn.outgoing_serial)
        self._conn.send(msg, serial=serial)
        return serial

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                msg = self._conn.receive()  # blocks: close() shuts the socket down
            except (OSError, ValueError) as exc:
                if not self._probe.closing:
                    self._probe.lost = ProbeLost(f"the session bus went away: {exc}")
                return
            try:
                self._dispatch(msg)
            except Exception:  # noqa: BLE001 - a malformed message is skipped, never fatal
                logger.debug("skipped a D-Bus message the GNOME probe could not read",
                             exc_info=True)

    def _dispatch(self, msg) -> None:
        fields = msg.header.fields
        kind = msg.header.message_type
        if kind == MessageType.method_return and \
                fields.get(HeaderFields.reply_serial) == self._pending_active:
            self._active_watch, self._pending_active = int(msg.body[0]), None
            return
        if kind == MessageType.method_return and \
                fields.get(HeaderFields.reply_serial) == self._pending_idle:
            self.idle_watch, self._pending_idle = int(msg.body[0]), None
            return
        if kind != MessageType.signal:
            return
        sender, member = fields.get(HeaderFields.sender), fields.get(HeaderFields.member)
        if member == "NameOwnerChanged" and sender == BUS[0]:
            name, _old, new = msg.body
            self.owners[name] = new
            if name == FOCUS[0]:
                self._probe.focus.invalidate()
            elif name == IDLE[0] and new:  # Mutter restarted: its watches went with it
                self.add_idle_watch_later()
            return
        path, interface = fields.get(HeaderFields.path), fields.get(HeaderFields.interface)
        if member == "Changed" and (path, interface) == FOCUS[1:] and \
                sender == self.owners.get(FOCUS[0]):
            title, app_id, wm_class, pid = msg.body
            self._probe.focus.signal((str(title), str(app_id), str(wm_class), int(pid)))
        elif member == "WatchFired" and (path, interface) == IDLE[1:] and \
                sender == self.owners.get(IDLE[0]):
            (watch,) = msg.body
            if watch == self.idle_watch:
                self._probe.idle_state.signal(self._probe.clock() - self._probe.threshold_s)
                self.add_active_watch()  # one-shot: fires at the next input
            elif watch == self._active_watch:
                self._active_watch = 0
                self._probe.idle_state.signal(None)

    def add_idle_watch_later(self) -> None:
        """A new Mutter: ask for the watch without waiting here (the reply comes to the loop)."""
        self.idle_watch = 0
        self._probe.idle_state.invalidate()
        msg = new_method_call(DBusAddress(IDLE[1], bus_name=IDLE[0], interface=IDLE[2]),
                              "AddIdleWatch", "t", (self._probe.threshold_ms,))
        self._pending_idle = self._send(msg)

    def close(self) -> None:
        close_listener(self._conn, self._thread)


class GnomeProbe:
    """Focused window from the extension, idle time from Mutter.

    Signal-driven where the session offers it: the extension's ``Changed`` signal and
    Mutter's idle watches (``AddIdleWatch``/``AddUserActiveWatch``, ``WatchFired``) keep the
    state in memory, so a sample costs no bus round trip; both are asked again every
    :data:`REQUERY_S` (a missed signal) and whenever the extension's name changes hands.
    An extension without ``Changed`` (an older install) is asked every sample, as is
    Mutter when it refuses the watches. :attr:`mode` says which.
    """

    def __init__(self, env: dict[str, str], timeout: float = 2.0,
                 idle_threshold_s: float = 180.0, *, signals: bool = True,
                 requery_s: float = REQUERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = connect(env, "SESSION")
        self._timeout = timeout
        self.threshold_s, self.clock = idle_threshold_s, clock
        self.threshold_ms = max(1, int(idle_threshold_s * 1000))
        self.closing, self.lost = False, None
        self.focus = Signalled(requery_s, clock)
        self.idle_state = Signalled(requery_s, clock)
        self._signals: _SignalThread | None = None
        self._window: tuple[tuple, WindowInfo | None] | None = None
        try:
            introspection = call(self._conn, FOCUS[0], FOCUS[1],
                                 "org.freedesktop.DBus.Introspectable", "Introspect",
                                 timeout=timeout)[0]
            self._get()
        except DBusErrorResponse as exc:
            self._conn.close()
            if exc.name in _GONE:
                raise ProbeUnavailable("the deskpulse GNOME Shell extension is not running in "
                                       "this session", hint=ENABLE_FIX) from exc
            raise ProbeUnavailable(f"the deskpulse GNOME Shell extension failed: {exc}",
                                   hint=ENABLE_FIX) from exc
        except (TimeoutError, OSError) as exc:
            self._conn.close()
            raise ProbeUnavailable(f"the session bus does not answer: {exc}") from exc
        try:
            self._idle_ms()
        except (DBusErrorResponse, TimeoutError) as exc:
            self._conn.close()
            raise ProbeUnavailable(f"org.gnome.Mutter.IdleMonitor does not answer: {exc}",
                                   hint="is this GNOME Shell on Mutter?") from exc
        self.focus_signals = signals and has_changed_signal(introspection)
        self.idle_signals = False
        if signals:
            self._start_signals(env)
        self.idle = self  # idle_seconds/start/stop live here (same bus link)

    def _start_signals(self, env: dict[str, str]) -> None:
        try:
            self._signals = _SignalThread(self, env)
        except (DBusErrorResponse, TimeoutError, OSError, ProbeUnavailable) as exc:
            logger.info("no D-Bus signals for the GNOME probe (%s): it asks every sample", exc)
            self.focus_signals = False
            return
        try:
            self._signals.add_idle_watch(self.threshold_ms)
            self.idle_signals = True
        except (DBusErrorResponse, TimeoutError) as exc:
            logger.info("Mutter refused an idle watch (%s): idle time is asked every sample",
                        exc)
        self._signals.start()

    @property
    def mode(self) -> str:
        return (f"window {'from Changed signals' if self.focus_signals else 'asked each sample'}"
                f", idle {'from watches' if self.idle_signals else 'asked each sample'}")

    def _get(self) -> tuple[str, str, str, int]:
        return call(self._conn, *FOCUS, "Get", timeout=self._timeout)  # type: ignore[return-value]

    def _idle_ms(self) -> int:
        return int(call(self._conn, *IDLE, "GetIdletime", timeout=self._timeout)[0])

    def _ask_focus(self) -> tuple[str, str, str, int] | None:
        """The extension's answer; None when there is none this time."""
        try:
            title, app_id, wm_class, pid = self._get()
        except DBusErrorResponse as exc:
            if exc.name not in _GONE:  # gone: locked screen (extensions off), Shell restarting
                logger.debug("the extension refused: %s", exc)
            return None
        except TimeoutError:
            return None
        except OSError as exc:
            raise ProbeLost(f"the session bus went away: {exc}") from exc
        return str(title), str(app_id), str(wm_class), int(pid)

    def active_window(self) -> WindowInfo | None:
        if self.lost is not None:
            raise self.lost
        if not self.focus_signals:
            state = self._ask_focus()
        else:
            gen = self.focus.due()
            if gen is not None:
                answer = self._ask_focus()
                self.focus.queried(gen, answer, ok=answer is not None)
                if answer is None:
                    return None
            state = self.focus.value
        return None if state is None else self._describe(state)

    def _describe(self, state: tuple[str, str, str, int]) -> WindowInfo | None:
        """The window of one state; computed once per state (the process is read once)."""
        if self._window is not None and self._window[0] == state:
            return self._window[1]
        title, app_id, wm_class, pid = state
        info = None
        if title or app_id or wm_class:  # else no focused window (desktop, overview)
            name, exe = describe_process(pid)
            info = WindowInfo(app=app_name(app_id, wm_class, name), exe=exe, title=title,
                              pid=pid)
        if self.focus_signals:
            self._window = (state, info)
        return info

    def idle_seconds(self) -> float:
        if not self.idle_signals:
            return self._ask_idle()
        gen = self.idle_state.due()
        if gen is not None:
            try:
                idle_ms = self._idle_ms()
            except (DBusErrorResponse, TimeoutError):
                self.idle_state.queried(gen, None, ok=False)
                return 0.0
            except OSError as exc:
                raise ProbeLost(f"the session bus went away: {exc}") from exc
            idle_s = idle_ms / 1000.0
            since = self.clock() - idle_s if idle_s >= self.threshold_s else None
            if (since is None) == (self.idle_state.value is None):
                since = self.idle_state.value  # the same state: keep when it began
            self.idle_state.queried(gen, since)
        since = self.idle_state.value
        return 0.0 if since is None else max(0.0, self.clock() - since)

    def _ask_idle(self) -> float:
        try:
            return self._idle_ms() / 1000.0
        except (DBusErrorResponse, TimeoutError):
            return 0.0
        except OSError as exc:
            raise ProbeLost(f"the session bus went away: {exc}") from exc

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self.closing = True
        if self._signals is not None:
            self._signals.close()
        with contextlib.suppress(OSError):
            self._conn.close()


def open_gnome(env: dict[str, str], choice, idle_threshold: float):
    from collector.probes.select import Session
    from collector.session.lock import open_away_watch
    probe = GnomeProbe(env, idle_threshold_s=idle_threshold)
    logger.info("GNOME probe: %s", probe.mode)
    return Session(probe, probe.idle, choice, "org.gnome.Mutter.IdleMonitor",
                   away=open_away_watch(env))


# -- install ------------------------------------------------------------------------------
def shell_major(version_text: str) -> int:
    match = re.search(r"(\d+)", version_text)
    if not match:
        raise ProbeUnavailable(f"cannot read the GNOME Shell version from {version_text!r}")
    return int(match.group(1))


def variant_for(major: int) -> Path:
    if major < 43:
        raise ProbeUnavailable(f"GNOME Shell {major} is older than 43, which the deskpulse "
                               "extension needs", hint="use an X11 session on this machine")
    return EXTENSION_DIR / ("shell43" if major < 45 else "shell45")


def install(home: Path, major: int) -> Path:
    """Copy the extension for Shell ``major`` into ``home``'s extensions; returns its dir."""
    target = home / ".local" / "share" / "gnome-shell" / "extensions" / UUID
    target.mkdir(parents=True, exist_ok=True)
    for item in variant_for(major).iterdir():
        shutil.copy2(item, target / item.name)
    return target


def enabled_with(current: str, uuid: str = UUID) -> str:
    """``org.gnome.shell enabled-extensions`` (GVariant text) with ``uuid`` added once."""
    names = re.findall(r"'([^']*)'", current)
    if uuid not in names:
        names.append(uuid)
    return "[" + ", ".join(f"'{n}'" for n in names) + "]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.probes.gnome",
                                     description="Install and enable deskpulse's GNOME Shell "
                                                 "extension for the current user.")
    parser.add_argument("command", choices=["install", "path"])
    args = parser.parse_args(argv)
    if args.command == "path":
        print(EXTENSION_DIR)
        return 0
    try:
        version = subprocess.run(["gnome-shell", "--version"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
        target = install(Path.home(), shell_major(version))
        current = subprocess.run(["gsettings", "get", "org.gnome.shell", "enabled-extensions"],
                                 capture_output=True, text=True, timeout=30,
                                 check=True).stdout.strip()
        subprocess.run(["gsettings", "set", "org.gnome.shell", "enabled-extensions",
                        enabled_with(current)], check=True, timeout=30)
    except (OSError, subprocess.SubprocessError, ProbeUnavailable) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"installed {UUID} in {target} and enabled it; log out and in once "
          f"(GNOME on Wayland loads new extensions at login)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

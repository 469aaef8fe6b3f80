"""GNOME Shell (Mutter, Wayland): the focused window through deskpulse's Shell extension.

GNOME offers no protocol for the focused window and ``org.gnome.Shell.Eval`` is
disabled since GNOME 41, so the collector ships a small Shell extension
(``collector/gnome_extension``: one variant for Shell 43-44, one for 45+) that
exports ``dev.deskpulse.Focus1`` on the session bus: ``Get() -> (title, app id,
WM class, pid)`` and a ``Changed`` signal. Idle time comes from
``org.gnome.Mutter.IdleMonitor.GetIdletime`` (input is counted by Mutter; nothing
here sees which key). While the screen is locked GNOME disables user extensions, so
the extension's name vanishes: those samples are skipped, and the lock itself is
away time (``collector.session.lock``).

``python -m collector.probes.gnome install`` installs the extension for the user
and enables it (log out and in once on Wayland so the Shell loads it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process
from collector.session.dbus import DBusErrorResponse, call, connect

logger = logging.getLogger(__name__)

UUID = "deskpulse-focus@deskpulse.dev"
FOCUS = ("dev.deskpulse.Focus", "/dev/deskpulse/Focus", "dev.deskpulse.Focus1")
IDLE = ("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
        "org.gnome.Mutter.IdleMonitor")
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


class GnomeProbe:
    """Focused window from the extension, idle time from Mutter, over one session-bus link."""

    def __init__(self, env: dict[str, str], timeout: float = 2.0) -> None:
        self._conn = connect(env, "SESSION")
        self._timeout = timeout
        try:
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
        self.idle = self  # idle_seconds/start/stop live here (same bus link)

    def _get(self) -> tuple[str, str, str, int]:
        return call(self._conn, *FOCUS, "Get", timeout=self._timeout)  # type: ignore[return-value]

    def _idle_ms(self) -> int:
        return int(call(self._conn, *IDLE, "GetIdletime", timeout=self._timeout)[0])

    def active_window(self) -> WindowInfo | None:
        try:
            title, app_id, wm_class, pid = self._get()
        except DBusErrorResponse as exc:
            if exc.name in _GONE:  # locked screen (extensions off) or the Shell restarting
                return None
            logger.debug("the extension refused: %s", exc)
            return None
        except TimeoutError:
            return None
        except OSError as exc:
            raise ProbeLost(f"the session bus went away: {exc}") from exc
        if not (title or app_id or wm_class):
            return None  # no focused window (desktop, overview)
        name, exe = describe_process(int(pid))
        return WindowInfo(app=app_name(app_id, wm_class, name), exe=exe, title=title,
                          pid=int(pid))

    def idle_seconds(self) -> float:
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
        with contextlib.suppress(OSError):
            self._conn.close()


def open_gnome(env: dict[str, str], choice, idle_threshold: float):
    from collector.probes.select import Session
    from collector.session.lock import open_away_watch
    probe = GnomeProbe(env)
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

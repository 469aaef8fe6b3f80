"""Which window probe and idle source this desktop session gets, and why.

:func:`choose` is pure: from the session's environment (``XDG_SESSION_TYPE``,
``WAYLAND_DISPLAY``, ``DISPLAY``, ``XDG_CURRENT_DESKTOP``) and the ``probe``
setting it names the probe. :func:`open_session` opens it with its idle source;
every failure is :class:`ProbeUnavailable` with the reason and the exact fix,
which ``deskpulse collect`` and ``deskpulse collector status`` print.

On a Wayland session the Wayland probe is used even when ``DISPLAY`` is set too:
XWayland's X server sees only the X11 apps, while the compositor sees every
window, X11 apps included.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

from collector.probes import ProbeUnavailable, WindowProbe
from deskpulse.core.errors import ConfigError

PROBES = ("auto", "x11", "wlroots", "gnome", "kde")


class Idle(Protocol):
    def idle_seconds(self) -> float: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Choice:
    probe: str     # x11, wlroots, gnome, kde, windows, macos
    session: str   # what was detected, for status and errors
    reason: str    # why this probe


def _desktops(env: dict[str, str]) -> list[str]:
    return [d.strip().lower() for d in env.get("XDG_CURRENT_DESKTOP", "").split(":") if d.strip()]


def choose(env: dict[str, str], override: str = "auto",
           platform: str = sys.platform) -> Choice:
    """The probe for this session (pure: reads only ``env`` and ``override``)."""
    if override not in PROBES:
        raise ConfigError(f"collector probe = {override!r} is not a probe",
                               hint=f"use one of {', '.join(PROBES)}")
    if platform == "win32":
        return Choice("windows", "Windows", "the platform")
    if platform == "darwin":
        return Choice("macos", "macOS", "the platform")
    if not platform.startswith("linux"):
        raise ProbeUnavailable(f"no window probe for platform {platform!r}")
    desktops = _desktops(env)
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    desktop = ":".join(desktops) or "unknown desktop"
    session = f"Wayland ({desktop})" if wayland else \
        (f"X11 ({desktop})" if env.get("DISPLAY") else "no graphical session")
    if override != "auto":
        return Choice(override, session, "set by collector probe")
    if wayland:
        if not env.get("WAYLAND_DISPLAY"):
            raise ProbeUnavailable(
                "XDG_SESSION_TYPE is wayland but WAYLAND_DISPLAY is not set",
                hint="run the collector inside the desktop session (its systemd user "
                     "service imports WAYLAND_DISPLAY), or export WAYLAND_DISPLAY")
        if "gnome" in desktops:
            return Choice("gnome", session, "XDG_CURRENT_DESKTOP names GNOME")
        if "kde" in desktops:
            return Choice("kde", session, "XDG_CURRENT_DESKTOP names KDE")
        return Choice("wlroots", session,
                      "a Wayland session that is neither GNOME nor KDE (wlroots protocols)")
    if env.get("DISPLAY"):
        return Choice("x11", session, "an X11 session (DISPLAY is set)")
    raise ProbeUnavailable("no graphical session: neither WAYLAND_DISPLAY nor DISPLAY is set",
                           hint="run the collector inside the desktop session")


@dataclass
class Session:
    """An opened probe with its idle source (and, where there is one, the lock watch)."""

    probe: WindowProbe
    idle: Idle
    choice: Choice
    idle_name: str
    #: lock screen / suspend watch (collector.session.lock), None where there is none
    away: Any = None
    extra: list[Any] = field(default_factory=list)  # further things to close
    #: what is missing and how to fix it (macOS permissions), shown by collector status
    notes: list[str] = field(default_factory=list)

    def info(self) -> dict[str, str]:
        info = {"probe": self.choice.probe, "session": self.choice.session,
                "reason": self.choice.reason, "idle": self.idle_name,
                "away": getattr(self.away, "name", "") if self.away is not None else ""}
        if self.notes:
            info["notes"] = "; ".join(self.notes)
        return info

    def close(self) -> None:
        self.idle.stop()
        self.probe.close()
        for thing in [*self.extra, *([self.away] if self.away is not None else [])]:
            with contextlib.suppress(Exception):
                thing.close()


def open_session(env: dict[str, str], override: str = "auto",
                 idle_threshold: float = 180.0) -> Session:
    """Open the chosen probe and its idle source; ProbeUnavailable says why not and the fix."""
    choice = choose(env, override)
    if choice.probe == "x11":
        if not env.get("DISPLAY"):
            raise ProbeUnavailable("no X display: DISPLAY is not set",
                                   hint="run the collector inside the desktop session")
        from collector.probes.x11 import X11Idle, X11Probe
        from collector.session.lock import open_away_watch
        x11 = X11Probe(env["DISPLAY"])
        if X11Idle.available(x11):  # the server's own idle counter: no input listener
            return Session(x11, X11Idle(x11, threshold_s=idle_threshold), choice,
                           "the X server's idle time "
                           "(MIT-SCREEN-SAVER)", away=open_away_watch(env))
        from collector.idle import InputActivity
        return Session(x11, InputActivity(), choice,
                       "input events (pynput, X11)", away=open_away_watch(env))
    if choice.probe == "wlroots":
        from collector.probes.wlroots import WlrootsProbe
        probe = WlrootsProbe(env, idle_threshold_s=idle_threshold)
        if not probe.idle_protocol:
            probe.close()
            raise ProbeUnavailable(
                "this wlroots compositor offers neither ext-idle-notify-v1 nor "
                "org_kde_kwin_idle, so idle time cannot be known",
                hint="use a compositor version with ext-idle-notify-v1 (wlroots 0.17+)")
        from collector.session.lock import open_away_watch
        return Session(probe, probe.idle, choice, probe.idle_protocol,
                       away=open_away_watch(env))
    if choice.probe == "gnome":
        from collector.probes.gnome import open_gnome
        return open_gnome(env, choice, idle_threshold)
    if choice.probe == "kde":
        from collector.probes.kde import open_kde
        return open_kde(env, choice, idle_threshold)
    if choice.probe == "windows":
        from collector.probes.windows import open_windows
        return open_windows(choice)  # type: ignore[return-value]
    from collector.probes.macos import open_macos
    return open_macos(choice)  # type: ignore[return-value]


def diagnose(env: dict[str, str], override: str = "auto") -> str:
    """One line: the probe this session would get, or why none works and the fix."""
    try:
        session = open_session(env, override)
    except ProbeUnavailable as exc:  # its text carries the fix (the hint)
        return f"no usable probe: {exc}"
    try:
        return describe(session.info())
    finally:
        session.close()


def describe(info: dict[str, str]) -> str:
    away = info.get("away") or "nothing (no lock/suspend watch)"
    notes = f"; {info['notes']}" if info.get("notes") else ""
    return (f"probe {info['probe']} for {info['session']} ({info['reason']}); "
            f"idle from {info['idle']}; away from {away}{notes}")

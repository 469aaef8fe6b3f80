"""Window probes: which application and window is in the foreground.

One Protocol, one module per OS or desktop (x11, wlroots, gnome, kde, windows,
macos), each imported only when used so that the package installs and imports
everywhere; :mod:`collector.probes.select` picks one for the session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from deskpulse.core.errors import DeskpulseError


class ProbeUnavailable(DeskpulseError):
    """No probe can work in this session (no display, missing extension or permission)."""

    exit_code = 4


class ProbeLost(DeskpulseError):
    """The display went away while running (X server or compositor stopped, logout)."""


@dataclass(frozen=True, slots=True)
class WindowInfo:
    app: str
    exe: str
    title: str
    pid: int


class WindowProbe(Protocol):
    def active_window(self) -> WindowInfo | None:
        """The foreground window, or None when there is none or it vanished mid-query.

        Raises :class:`ProbeLost` when the display itself is gone.
        """
        ...

    def close(self) -> None: ...


def open_window_probe(environ: dict[str, str] | None = None) -> WindowProbe:
    """The probe for this session, or :class:`ProbeUnavailable` with what to do about it.

    The choice (X11, wlroots, GNOME, KDE, Windows, macOS) is made by
    :mod:`collector.probes.select`, which also opens the idle source that goes with it.
    """
    from collector.probes.select import open_session
    session = open_session(dict(os.environ if environ is None else environ))
    session.idle.stop()
    return session.probe

"""Window probes: which application and window is in the foreground.

One Protocol, one module per OS, each imported only when used so that the
package installs and imports everywhere.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Protocol

from deskpulse.errors import DeskpulseError


class ProbeUnavailable(DeskpulseError):
    """No probe can work in this session (Wayland, no display, missing permission)."""

    exit_code = 4


class ProbeLost(DeskpulseError):
    """The display went away while running (X server stopped, logout)."""


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
    """The probe for this platform, or :class:`ProbeUnavailable` with what to do about it."""
    env = dict(os.environ if environ is None else environ)
    if sys.platform.startswith("linux"):
        if env.get("XDG_SESSION_TYPE") == "wayland" or (env.get("WAYLAND_DISPLAY")
                                                        and not env.get("DISPLAY")):
            raise ProbeUnavailable(
                "this is a Wayland session; deskpulse can read the foreground window only "
                "on X11", hint="log in with an X11 (Xorg) session to run the collector")
        if not env.get("DISPLAY"):
            raise ProbeUnavailable("no X display: DISPLAY is not set",
                                   hint="run the collector inside the desktop session")
        from collector.probes.x11 import X11Probe
        return X11Probe(env["DISPLAY"])
    if sys.platform == "win32":
        from collector.probes.windows import WindowsProbe
        return WindowsProbe()
    if sys.platform == "darwin":
        from collector.probes.macos import MacProbe
        return MacProbe()
    raise ProbeUnavailable(f"no window probe for platform {sys.platform!r}")

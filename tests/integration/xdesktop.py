"""A real X desktop for tests: Xvfb + openbox, windows with known titles, xdotool."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deskpulse.core.procs import Child


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (.ci/run installs them with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must have them: a skip there would hide a broken install
        pytest.skip(message)


class Desktop:
    def __init__(self, display: str, logs: Path) -> None:
        self.display = display
        self.env = {**os.environ, "DISPLAY": display}
        self.env.pop("WAYLAND_DISPLAY", None)
        self.env.pop("XDG_SESSION_TYPE", None)
        self._logs = logs
        self.windows: dict[str, Child] = {}

    def open_window(self, title: str, app_class: str) -> None:
        child = Child(f"window {title}", [sys.executable, "-m", "tests.helpers.xwindow",
                                          "--title", title, "--app-class", app_class],
                      self._logs / f"window-{len(self.windows)}.log", env=self.env)
        self.windows[title] = child
        self.xdotool("search", "--sync", "--name", f"^{title}$", timeout=15)

    def close_window(self, title: str) -> None:
        self.windows.pop(title).stop(timeout=5)

    def activate(self, title: str) -> None:
        self.xdotool("search", "--name", f"^{title}$", "windowactivate", "--sync")

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "20", text)

    def xdotool(self, *args: str, timeout: float = 10) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, check=True, capture_output=True,
                              text=True, timeout=timeout).stdout


@contextmanager
def x_desktop(tmp: Path) -> Iterator[tuple[Desktop, Child]]:
    require("Xvfb", "openbox", "xdotool")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    display = f":{number}"
    xvfb = Child("Xvfb", ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                 tmp / "xvfb.log")
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or not xvfb.alive():
            xvfb.stop()
            pytest.fail(f"Xvfb did not start: {xvfb.log_tail()}")
        time.sleep(0.05)
    desktop = Desktop(display, tmp)
    wm = Child("openbox", ["openbox"], tmp / "openbox.log", env=desktop.env)
    try:
        time.sleep(0.5)  # let the window manager take over the root window
        yield desktop, xvfb
    finally:
        for child in desktop.windows.values():
            child.stop(timeout=5)
        wm.stop(timeout=5)
        xvfb.stop(timeout=5)

"""Headless Chromium for tests: the DOM after scripts ran, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from deskpulse.core.procs import Child

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium found: .ci/run installs the Debian package 'chromium'")


def _run(url: str, profile: Path, *flags: str, timeout: float = 90) -> str:
    argv = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
            "--hide-scrollbars", f"--user-data-dir={profile}", *flags, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(url: str, profile: Path) -> str:
    """The serialized DOM once the page (and its scripts) loaded."""
    return _run(url, profile, "--dump-dom", "--virtual-time-budget=5000")


def screenshot(url: str, profile: Path, out: Path, size: tuple[int, int] = (1200, 1800)) -> Path:
    _run(url, profile, f"--screenshot={out}", f"--window-size={size[0]},{size[1]}",
         "--virtual-time-budget=5000")
    return out


def headed(url: str, profile: Path, extension: Path | None, env: dict[str, str], log: Path,
           *flags: str) -> Child:
    """Chromium with a window on the given X display, optionally with an unpacked extension."""
    argv = [chromium(), "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--password-store=basic",
            f"--user-data-dir={profile}", *flags]
    if extension is not None:
        argv += [f"--load-extension={extension}", f"--disable-extensions-except={extension}"]
    return Child("chromium", [*argv, url], log, env=env)

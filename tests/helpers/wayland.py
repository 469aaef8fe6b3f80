"""Real Wayland desktops for tests: headless sway as an unprivileged user, foot windows.

sway refuses to run as root ("Unable to drop root"), so the compositor and its
clients run as a dedicated unprivileged user (created here if missing) with a
private ``XDG_RUNTIME_DIR``; the collector runs as the test's user (root) inside
that session, given its ``WAYLAND_DISPLAY`` and ``XDG_RUNTIME_DIR``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deskpulse.procs import Child
from tests.conftest import wait_for

SESSION_USER = "deskpulse-desk"


def require(*tools: str) -> None:
    """Skip (fail in CI, which installs them) when a binary is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (.ci/run installs them with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("the compositor runs as another (unprivileged) user: needs root "
                    "for useradd/runuser")


def session_user() -> pwd.struct_passwd:
    """The unprivileged desktop user (created once: a system account with a home)."""
    try:
        return pwd.getpwnam(SESSION_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", SESSION_USER],
                       check=True, capture_output=True, timeout=30)
        return pwd.getpwnam(SESSION_USER)


@contextmanager
def runtime_dir(user: pwd.struct_passwd) -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR owned by the session user (0700, as logind makes it).

    Outside pytest's tmp dirs on purpose: those are 0700 root, and pytest removes old
    ones while other test runs of the same user start.
    """
    run = Path(tempfile.mkdtemp(prefix="deskpulse-xdg-"))
    run.chmod(0o700)
    os.chown(run, user.pw_uid, user.pw_gid)
    try:
        yield run
    finally:
        shutil.rmtree(run, ignore_errors=True)


class WaylandDesktop:
    """A running compositor; ``env`` is what a process in that session sees."""

    def __init__(self, tmp: Path, user: pwd.struct_passwd, runtime: Path, display: str,
                 desktop: str) -> None:
        self.tmp, self.user, self.runtime = tmp, user, runtime
        self.user_env = {"HOME": user.pw_dir, "USER": user.pw_name, "PATH": "/usr/bin:/bin",
                         "XDG_RUNTIME_DIR": str(runtime), "WAYLAND_DISPLAY": display,
                         "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": desktop}
        self.env = {**os.environ, **{k: v for k, v in self.user_env.items()
                                     if k not in ("HOME", "USER", "PATH")}}
        self.env.pop("DISPLAY", None)
        self.windows: dict[str, Child] = {}

    def as_user(self, argv: list[str], extra: dict[str, str] | None = None) -> list[str]:
        env = [f"{k}={v}" for k, v in {**self.user_env, **(extra or {})}.items()]
        return ["runuser", "-u", self.user.pw_name, "--", "env", "-i", *env, *argv]

    def run(self, *argv: str, timeout: float = 10) -> str:
        done = subprocess.run(self.as_user(list(argv), self.extra_env()), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode:
            pytest.fail(f"{argv[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def extra_env(self) -> dict[str, str]:
        return {}


class Sway(WaylandDesktop):
    def extra_env(self) -> dict[str, str]:
        socks = sorted(self.runtime.glob("sway-ipc.*.sock"))
        return {"SWAYSOCK": str(socks[0])} if socks else {}

    def tree(self) -> list[dict]:
        """Every window of sway's tree, with its app_id, name (title) and focused."""
        found: list[dict] = []

        def walk(node: dict) -> None:
            if node.get("type") in ("con", "floating_con") and node.get("pid"):
                found.append(node)
            for child in node.get("nodes", []) + node.get("floating_nodes", []):
                walk(child)
        walk(json.loads(self.run("swaymsg", "-t", "get_tree")))
        return found

    def open_window(self, title: str) -> None:
        """A foot terminal titled ``title`` (sway gives it the focus)."""
        self.windows[title] = Child(f"foot {title}", self.as_user(["foot", "-T", title]),
                                    self.tmp / f"foot-{len(self.windows)}.log")
        wait_for(lambda: any(w.get("name") == title for w in self.tree()), 15,
                 f"the window {title!r}")

    def focus(self, title: str) -> None:
        self.run("swaymsg", f'[title="^{title}$"] focus')
        wait_for(lambda: any(w.get("name") == title and w.get("focused") for w in self.tree()),
                 10, f"the focus on {title!r}")

    def type(self, text: str) -> None:
        """Key presses through the virtual-keyboard protocol (wtype)."""
        self.run("wtype", "-d", "20", text, timeout=30)


@contextmanager
def sway_desktop(tmp: Path) -> Iterator[Sway]:
    require("sway", "swaymsg", "foot", "wtype", "runuser")
    user = session_user()
    with runtime_dir(user) as runtime:
        config = runtime / "sway.conf"
        config.write_text("output HEADLESS-1 resolution 1280x800\nxwayland disable\n")
        config.chmod(0o644)
        with _sway(tmp, Sway(tmp, user, runtime, "wayland-1", "sway"), config) as desk:
            yield desk


@contextmanager
def _sway(tmp: Path, desk: Sway, config: Path) -> Iterator[Sway]:
    runtime = desk.runtime
    sway = Child("sway", desk.as_user(["sway", "-c", str(config)], {
        "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman", "WLR_LIBINPUT_NO_DEVICES": "1"}),
        tmp / "sway.log")
    try:
        def up() -> bool:
            assert sway.alive(), sway.log_tail()
            return (runtime / "wayland-1").exists() and bool(desk.extra_env())
        wait_for(up, 30, "headless sway")
        time.sleep(0.3)
        yield desk
    finally:
        for child in desk.windows.values():
            child.stop(timeout=5)
        sway.stop(timeout=10)

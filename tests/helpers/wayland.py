"""Real Wayland desktops for tests: headless sway as an unprivileged user, foot windows.

sway refuses to run as root ("Unable to drop root"), so when the tests run as root
the compositor and its clients run as a dedicated unprivileged user (created here if
missing, through ``runuser``) with a private ``XDG_RUNTIME_DIR``; the collector runs
as the test's user inside that session, given its ``WAYLAND_DISPLAY`` and
``XDG_RUNTIME_DIR``. Run unprivileged, the tests start everything as themselves.
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

from deskpulse.core.procs import Child
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


def session_user() -> pwd.struct_passwd:
    """The unprivileged desktop user: created once when the tests run as root (sway and
    gnome-shell refuse root), else the test's own user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
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
    if user.pw_uid != os.geteuid():
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
        self.compositor: Child | None = None

    def as_user(self, argv: list[str], extra: dict[str, str] | None = None) -> list[str]:
        env = [f"{k}={v}" for k, v in {**self.user_env, **(extra or {})}.items()]
        if self.user.pw_uid == os.geteuid():  # the tests run unprivileged: no user switch
            return ["env", "-i", *env, *argv]
        return ["runuser", "-u", self.user.pw_name, "--", "env", "-i", *env, *argv]

    def run(self, *argv: str, timeout: float = 10) -> str:
        done = subprocess.run(self.as_user(list(argv), self.extra_env()), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode:
            pytest.fail(f"{argv[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def extra_env(self) -> dict[str, str]:
        return {}

    def stop(self, services: list[Child], timeout: float = 15) -> None:
        """Close the test's windows, then the session's services, last started first."""
        for child in self.windows.values():
            child.stop(timeout=5)
        for child in reversed(services):
            child.stop(timeout=timeout)


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

    def x_display(self) -> str:
        """The DISPLAY of sway's XWayland (its socket is the session user's, made at start)."""
        for sock in Path("/tmp/.X11-unix").glob("X*"):
            if sock.stat().st_uid == self.user.pw_uid:
                return f":{sock.name[1:]}"
        return ""

    def type(self, text: str) -> None:
        """Key presses through the virtual-keyboard protocol (wtype)."""
        self.run("wtype", "-d", "20", text, timeout=30)


@contextmanager
def sway_desktop(tmp: Path, *, xwayland: bool = False) -> Iterator[Sway]:
    require("sway", "swaymsg", "foot", "wtype",
            *(["Xwayland", "xmessage"] if xwayland else []))
    user = session_user()
    with runtime_dir(user) as runtime:
        config = runtime / "sway.conf"
        config.write_text("output HEADLESS-1 resolution 1280x800\n"
                          + ("" if xwayland else "xwayland disable\n"))
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
        desk.compositor = sway
        yield desk
    finally:
        desk.stop([sway], timeout=10)


# -- D-Bus: a private system bus with a logind stand-in, session buses ----------------------
SYSTEM_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/><allow send_type="signal"/>
    <allow send_type="method_return"/><allow send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="signal"/>
    <allow receive_type="method_return"/><allow receive_type="error"/>
  </policy>
</busconfig>
"""
#: the user's session bus, admitting root too (the collector runs as root in these tests)
SESSION_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <listen>unix:path={socket}</listen>
  <policy context="default"><allow user="root"/></policy>
</busconfig>
"""
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-dbusmock lives there


def require_dbusmock() -> None:
    require("dbus-daemon")
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import dbusmock"], capture_output=True,
                           timeout=30).returncode == 0 if Path(SYSTEM_PYTHON).exists() else False
    if not found:
        message = "python3-dbusmock not installed (.ci/run installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class SystemBus:
    """A private system bus carrying python-dbusmock's logind (and a GDM stand-in)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": address}

    def call(self, name: str, path: str, interface: str, method: str, signature: str = "",
             body: tuple = ()) -> tuple:
        from collector.session.dbus import call, connect
        conn = connect(self.env, "SYSTEM")
        try:
            return call(conn, name, path, interface, method, signature or None, body,
                        timeout=10)
        finally:
            conn.close()

    def mock(self, path: str, method: str, signature: str = "", body: tuple = ()) -> tuple:
        name = "org.gnome.DisplayManager" if "DisplayManager" in path else "org.freedesktop.login1"
        return self.call(name, path, "org.freedesktop.DBus.Mock", method, signature, body)

    def add_session(self, session_id: str, uid: int, user: str) -> str:
        return self.mock("/org/freedesktop/login1", "AddSession", "ssusb",
                         (session_id, "seat0", uid, user, True))[0]

    def set_locked_hint(self, session_id: str, locked: bool) -> None:
        self.call("org.freedesktop.login1", f"/org/freedesktop/login1/session/{session_id}",
                  "org.freedesktop.login1.Session", "SetLockedHint", "b", (locked,))

    def prepare_for_sleep(self, sleeping: bool) -> None:
        self.mock("/org/freedesktop/login1", "EmitSignal", "sssav",
                  ("org.freedesktop.login1.Manager", "PrepareForSleep", "b",
                   [("b", sleeping)]))


@contextmanager
def system_bus(tmp: Path, *, gdm: bool = False) -> Iterator[SystemBus]:
    """dbus-daemon (system type, private socket) + dbusmock's logind template (+ GDM)."""
    require_dbusmock()
    where = Path(tempfile.mkdtemp(prefix="deskpulse-sysbus-"))
    where.chmod(0o755)
    socket_path = where / "system_bus_socket"
    conf = where / "system.conf"
    conf.write_text(SYSTEM_CONF.format(socket=socket_path))
    daemon = Child("system dbus", ["dbus-daemon", "--nofork", "--config-file", str(conf)],
                   tmp / "system-dbus.log")
    children = [daemon]
    try:
        def listening() -> bool:
            assert daemon.alive(), daemon.log_tail()
            return socket_path.exists()
        wait_for(listening, 15, "the system bus")
        socket_path.chmod(0o777)
        bus = SystemBus(f"unix:path={socket_path}")
        env = {**os.environ, **bus.env}
        children.append(Child("logind mock", [SYSTEM_PYTHON, "-m", "dbusmock", "--system",
                                              "--template", "logind"], tmp / "logind.log",
                              env=env))
        if gdm:
            children.append(Child("gdm mock", [
                SYSTEM_PYTHON, "-m", "dbusmock", "--system", "org.gnome.DisplayManager",
                "/org/gnome/DisplayManager/Manager", "org.gnome.DisplayManager.Manager"],
                tmp / "gdm.log", env=env))

        def answering() -> bool:
            for child in children:
                assert child.alive(), f"{child.name}: {child.log_tail()}"
            try:
                bus.call("org.freedesktop.login1", "/org/freedesktop/login1",
                         "org.freedesktop.login1.Manager", "ListSessions")
                if gdm:  # GNOME Shell makes a lock screen only when GDM is >= 3.5.91
                    bus.mock("/org/gnome/DisplayManager/Manager", "AddProperty", "ssv",
                             ("org.gnome.DisplayManager.Manager", "Version", ("s", "43.0")))
                return True
            except Exception:  # noqa: BLE001 - not up yet (any D-Bus error): poll again
                return False
        wait_for(answering, 30, "the logind stand-in")
        yield bus
    finally:
        for child in reversed(children):
            child.stop(timeout=5)
        shutil.rmtree(where, ignore_errors=True)


# -- GNOME Shell ---------------------------------------------------------------------------
FOCUS_UUID = "deskpulse-focus@deskpulse.dev"
TEST_UUID = "deskpulse-test@deskpulse.dev"
TEST_EXTENSION = Path(__file__).resolve().parent / "gnome_test_extension"


class Gnome(WaylandDesktop):
    """Headless GNOME Shell with the shipped extension and a test-only driver extension."""

    def session_call(self, name: str, path: str, interface: str, method: str,
                     signature: str = "", body: tuple = (), timeout: float = 10) -> tuple:
        from collector.session.dbus import call, connect
        conn = connect(self.env, "SESSION")
        try:
            return call(conn, name, path, interface, method, signature or None, body,
                        timeout=timeout)
        finally:
            conn.close()

    def focused(self) -> tuple:
        return self.session_call("dev.deskpulse.Focus", "/dev/deskpulse/Focus",
                                 "dev.deskpulse.Focus1", "Get")

    def open_window(self, title: str) -> None:
        self.windows[title] = Child(f"foot {title}", self.as_user(["foot", "-T", title]),
                                    self.tmp / f"foot-{len(self.windows)}.log")
        wait_for(lambda: self.focused()[0] == title, 20, f"the window {title!r} focused")

    def focus(self, title: str) -> None:
        (found,) = self.session_call("dev.deskpulse.Test", "/dev/deskpulse/Test",
                                     "dev.deskpulse.Test1", "Activate", "s", (title,))
        assert found, f"no window titled {title!r}"
        wait_for(lambda: self.focused()[0] == title, 10, f"the focus on {title!r}")

    def poke(self) -> None:
        """Input (a virtual pointer moves): Mutter's idle time starts again."""
        self.session_call("dev.deskpulse.Test", "/dev/deskpulse/Test", "dev.deskpulse.Test1",
                          "Poke")

    def lock(self) -> None:
        """Lock the screen through GNOME's screensaver interface (returns once shown)."""
        self.session_call("org.gnome.Shell.ScreenShield", "/org/gnome/ScreenSaver",
                          "org.gnome.ScreenSaver", "Lock", timeout=20)


@contextmanager
def gnome_desktop(tmp: Path, bus: SystemBus) -> Iterator[Gnome]:
    require("gnome-shell", "foot", "dbus-daemon", "gsettings")
    user = session_user()
    from collector.probes.gnome import install, shell_major
    version = subprocess.run(["gnome-shell", "--version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    major = shell_major(version)
    if major > 44:
        pytest.skip(f"the test driver extension is for GNOME Shell 43-44, not {major}")
    home = Path(user.pw_dir)
    install(home, major)  # the shipped extension, the way users install it
    driver = home / ".local/share/gnome-shell/extensions" / TEST_UUID
    shutil.copytree(TEST_EXTENSION, driver, dirs_exist_ok=True)
    if user.pw_uid != os.geteuid():
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(home / ".local")],
                       check=True, timeout=30)
    with runtime_dir(user) as runtime:
        conf = runtime / "session.conf"
        conf.write_text(SESSION_CONF.format(socket=runtime / "bus"))
        conf.chmod(0o644)
        desk = Gnome(tmp, user, runtime, "wayland-g", "GNOME")
        address = f"unix:path={runtime / 'bus'}"
        desk.user_env.update({"DBUS_SESSION_BUS_ADDRESS": address, **bus.env})
        desk.env.update({"DBUS_SESSION_BUS_ADDRESS": address, **bus.env})
        children = [Child("session dbus", desk.as_user(
            ["dbus-daemon", "--nofork", "--config-file", str(conf)]), tmp / "session-dbus.log")]
        try:
            wait_for(lambda: (runtime / "bus").exists(), 15, "the session bus")
            desk.run("gsettings", "set", "org.gnome.shell", "enabled-extensions",
                     f"['{FOCUS_UUID}', '{TEST_UUID}']", timeout=30)
            desk.run("gsettings", "set", "org.gnome.shell", "disable-user-extensions",
                     "false", timeout=30)
            shell = Child("gnome-shell", desk.as_user([
                "gnome-shell", "--headless", "--wayland", "--no-x11", "--virtual-monitor",
                "1280x800", "--wayland-display=wayland-g"]), tmp / "gnome-shell.log")
            children.append(shell)

            def up() -> bool:
                assert shell.alive(), shell.log_tail(30)
                try:
                    desk.focused()
                    desk.session_call("dev.deskpulse.Test", "/dev/deskpulse/Test",
                                      "org.freedesktop.DBus.Peer", "Ping")
                    return True
                except Exception:  # noqa: BLE001 - not up yet: any D-Bus error, poll again
                    return False
            wait_for(up, 60, "GNOME Shell with the deskpulse extensions")
            yield desk
        finally:
            desk.stop(children)


# -- KDE (KWin) ----------------------------------------------------------------------------
GTK_WINDOW = Path(__file__).resolve().parent / "gtkwindow.py"
ACTIVATE_JS = """var clients = workspace.clientList();
for (var i = 0; i < clients.length; i++)
    if (clients[i].caption === %s)
        workspace.activeClient = clients[i];
"""


class Kwin(WaylandDesktop):
    """kwin_wayland --virtual; windows are GTK 3 (foot dies on KWin's 0 mm virtual output)."""

    def session_call(self, *args, **kwargs) -> tuple:
        return Gnome.session_call(self, *args, **kwargs)  # type: ignore[arg-type]

    def open_window(self, title: str, app_id: str) -> None:
        self.windows[title] = Child(
            f"gtk {title}", self.as_user([SYSTEM_PYTHON, str(self.runtime / "gtkwindow.py"),
                                          "--title", title, "--app-id", app_id],
                                         {"GDK_BACKEND": "wayland"}),
            self.tmp / f"gtk-{len(self.windows)}.log")
        wait_for(lambda: f"dp-window {title}" in self.captions(), 20, f"the window {title!r}")

    def _script(self, name: str, text: str) -> None:
        path = self.runtime / f"{name}.js"
        path.write_text(text)
        path.chmod(0o644)
        scripting = ("org.kde.KWin", "/Scripting", "org.kde.kwin.Scripting")
        self.session_call(*scripting, "unloadScript", "s", (name,))
        self.session_call(*scripting, "loadScript", "ss", (str(path), name))
        self.session_call(*scripting, "start")

    def captions(self) -> str:
        log = self.tmp / "kwin.log"
        self._script("dp-list", "workspace.clientList().forEach(function (c) "
                                "{ print('dp-window ' + c.caption); });")
        time.sleep(0.2)
        return log.read_text(errors="replace") if log.exists() else ""

    def focus(self, title: str) -> None:
        self._script("dp-activate", ACTIVATE_JS % json.dumps(title))
        marker = f"dp-active {title}\n"

        def active() -> bool:
            log = self.tmp / "kwin.log"
            before = log.stat().st_size if log.exists() else 0
            self._script("dp-which", "print('dp-active ' + (workspace.activeClient ? "
                                     "workspace.activeClient.caption : ''));")
            time.sleep(0.2)
            return marker in log.read_text(errors="replace")[before:] if log.exists() else False
        wait_for(active, 10, f"the focus on {title!r}")


@contextmanager
def kwin_desktop(tmp: Path) -> Iterator[Kwin]:
    require("kwin_wayland", "dbus-daemon")
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run(
            [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0')"],
            capture_output=True, timeout=30).returncode:
        pytest.skip("no GTK 3 for python3 (python3-gi, gir1.2-gtk-3.0)")
    user = session_user()
    with runtime_dir(user) as runtime:
        # Debian's kwin_wayland carries the file capability cap_sys_resource, which a
        # container without it in its bounding set refuses to exec (EPERM): a plain copy runs
        kwin = runtime / "kwin_wayland"
        shutil.copyfile(shutil.which("kwin_wayland"), kwin)
        kwin.chmod(0o755)
        shutil.copyfile(GTK_WINDOW, runtime / "gtkwindow.py")
        (runtime / "gtkwindow.py").chmod(0o644)
        conf = runtime / "session.conf"
        conf.write_text(SESSION_CONF.format(socket=runtime / "bus"))
        conf.chmod(0o644)
        desk = Kwin(tmp, user, runtime, "wayland-k", "KDE")
        address = f"unix:path={runtime / 'bus'}"
        desk.user_env["DBUS_SESSION_BUS_ADDRESS"] = address
        desk.env["DBUS_SESSION_BUS_ADDRESS"] = address
        children = [Child("session dbus", desk.as_user(
            ["dbus-daemon", "--nofork", "--config-file", str(conf)]), tmp / "session-dbus.log")]
        try:
            wait_for(lambda: (runtime / "bus").exists(), 15, "the session bus")
            shell = Child("kwin", desk.as_user([
                str(kwin), "--virtual", "--socket", "wayland-k", "--width", "1280", "--height",
                "800", "--no-lockscreen", "--no-global-shortcuts"]), tmp / "kwin.log")
            children.append(shell)

            def up() -> bool:
                assert shell.alive(), shell.log_tail(30)
                try:
                    desk.session_call("org.kde.KWin", "/Scripting",
                                      "org.freedesktop.DBus.Peer", "Ping")
                    return (runtime / "wayland-k").exists()
                except Exception:  # noqa: BLE001 - not up yet: any D-Bus error, poll again
                    return False
            wait_for(up, 60, "kwin_wayland --virtual")
            yield desk
        finally:
            desk.stop(children)

"""The collector's own X11 protocol client on a real X server, against python-xlib's answers."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from Xlib import X, display

from collector.probes.x11 import X11Idle, X11Probe
from collector.probes.xproto import (
    BAD_WINDOW,
    WM_CLASS,
    Connection,
    XConnectionLost,
    XDisplayError,
    XError,
)
from deskpulse.core.procs import Child
from tests.integration.xdesktop import require, x_desktop

pytestmark = pytest.mark.integration


@pytest.fixture()
def desktop(tmp_path):
    with x_desktop(tmp_path) as (desk, xvfb):
        desk.xvfb = xvfb
        yield desk


def test_the_probe_reads_what_python_xlib_reads(desktop, monkeypatch):
    desktop.open_window("Alpha doc", "Alphaapp")
    desktop.open_window("Beta sheet", "Betaapp")
    monkeypatch.setenv("DISPLAY", desktop.display)
    xlib = display.Display(desktop.display)
    probe = X11Probe(desktop.display)
    try:
        for title in ("Alpha doc", "Beta sheet"):
            desktop.activate(title)
            root = xlib.screen().root
            active = root.get_full_property(xlib.intern_atom("_NET_ACTIVE_WINDOW"),
                                            X.AnyPropertyType).value[0]
            window = xlib.create_resource_object("window", active)
            pid = window.get_full_property(xlib.intern_atom("_NET_WM_PID"), 6).value[0]
            got = probe.active_window()
            assert got is not None
            assert (got.title, got.app, got.pid) == (title, window.get_wm_class()[1], pid)
            assert got.exe == os.path.realpath(sys.executable)
            assert probe._root == root.id
            assert probe._d.intern_atom("_NET_WM_PID") == xlib.intern_atom("_NET_WM_PID")
        idle = X11Idle(probe)
        assert X11Idle.available(probe)
        ms = probe._d.screensaver_idle_ms(probe._root)
        assert abs(ms - xlib.screen().root.screensaver_query_info().idle) < 5000
        assert idle.idle_seconds() >= 0.0
    finally:
        probe.close()
        xlib.close()


def test_a_window_gone_is_a_bad_window_error_and_the_connection_goes_on(desktop):
    conn = Connection(desktop.display)
    try:
        with pytest.raises(XError) as raised:
            conn.get_property(0x7FFFFFF, WM_CLASS)
        assert raised.value.code == BAD_WINDOW
        assert conn.get_property(conn.root, conn.intern_atom("_NET_SUPPORTED")) is not None
        assert conn.extension_opcode("NO-SUCH-EXTENSION") is None
        assert conn.get_property(conn.root, conn.intern_atom("DESKPULSE_NOTHING")) is None
    finally:
        conn.close()


def test_a_server_that_goes_away_is_a_lost_connection(desktop):
    probe = X11Probe(desktop.display)
    desktop.xvfb.stop(timeout=5)
    with pytest.raises(OSError) as raised:
        probe._d.get_property(probe._root, WM_CLASS)
    assert isinstance(raised.value, XConnectionLost)
    probe.close()


def test_no_server_is_a_display_error(tmp_path):
    with pytest.raises(XDisplayError, match="cannot connect"):
        Connection(":197")
    with pytest.raises(XDisplayError, match="bad display name"):
        Connection("nonsense")


def test_a_server_with_a_cookie_takes_the_one_in_xauthority_and_refuses_others(tmp_path,
                                                                             monkeypatch):
    require("Xvfb", "xauth")
    number = next(n for n in range(150, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    auth = tmp_path / "Xauthority"
    cookie = secrets.token_hex(16)
    subprocess.run(["xauth", "-f", str(auth), "add", f"{socket.gethostname()}/unix:{number}",
                    "MIT-MAGIC-COOKIE-1", cookie], check=True, timeout=10)
    xvfb = Child("Xvfb", ["Xvfb", f":{number}", "-auth", str(auth), "-nolisten", "tcp"],
                 tmp_path / "xvfb.log")
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert time.monotonic() < deadline and xvfb.alive(), xvfb.log_tail()
            time.sleep(0.05)
        monkeypatch.setenv("XAUTHORITY", str(auth))
        conn = Connection(f":{number}")
        assert conn.root > 0
        conn.close()
        monkeypatch.setenv("XAUTHORITY", str(tmp_path / "none"))
        with pytest.raises(XDisplayError, match="refused"):
            Connection(f":{number}")
    finally:
        xvfb.stop(timeout=5)

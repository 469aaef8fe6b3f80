"""Probe choice per session kind, its status messages, and the Wayland wire decoding."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from collector.probes import ProbeUnavailable
from collector.probes.select import choose, diagnose, open_session
from collector.probes.wire import decode_args, encode_message, encode_string
from collector.probes.wlroots import WlrootsIdle, activated_in
from deskpulse.core.errors import ConfigError

LINUX = "linux"


@pytest.mark.parametrize(("env", "probe"), [
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "GNOME"}, "x11"),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland",
      "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "gnome"),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE"}, "kde"),
    ({"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway"}, "wlroots"),
    ({"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "Hyprland"}, "wlroots"),
    ({"WAYLAND_DISPLAY": "wayland-1"}, "wlroots"),
    # XWayland's DISPLAY beside a Wayland session: the compositor sees every window
    ({"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":1", "XDG_SESSION_TYPE": "wayland",
      "XDG_CURRENT_DESKTOP": "sway"}, "wlroots"),
])
def test_each_session_kind_gets_its_probe(env, probe):
    assert choose(env, platform=LINUX).probe == probe


def test_the_setting_overrides_detection_and_is_checked():
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "GNOME"}
    assert choose(env, "wlroots", platform=LINUX).probe == "wlroots"
    assert choose(env, "wlroots", platform=LINUX).reason == "set by collector probe"
    with pytest.raises(ConfigError, match="'gnom' is not a probe"):
        choose(env, "gnom", platform=LINUX)


def test_other_platforms():
    assert choose({}, platform="win32").probe == "windows"
    assert choose({}, platform="darwin").probe == "macos"
    with pytest.raises(ProbeUnavailable, match="no window probe for platform 'sunos5'"):
        choose({}, platform="sunos5")


def test_no_usable_probe_says_why_and_the_fix(tmp_path):
    line = diagnose({})
    assert line == ("no usable probe: no graphical session: neither WAYLAND_DISPLAY nor "
                    "DISPLAY is set (run the collector inside the desktop session)")
    line = diagnose({"XDG_SESSION_TYPE": "wayland"})
    assert "WAYLAND_DISPLAY is not set" in line and "export WAYLAND_DISPLAY" in line
    line = diagnose({"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": str(tmp_path)})
    assert line.startswith(f"no usable probe: cannot connect to the Wayland compositor at "
                           f"{tmp_path}/wayland-9")
    assert "WAYLAND_DISPLAY and XDG_RUNTIME_DIR" in line
    assert "XDG_RUNTIME_DIR is not set" in diagnose({"WAYLAND_DISPLAY": "wayland-0"})


def _fake_compositor(path, globals_: list[tuple[int, str, int]]) -> threading.Thread:
    """Answers get_registry with ``globals_`` and every sync with done: no real protocol."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.settimeout(5)
        buf = b""
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 8:
                    obj, word = struct.unpack_from("<II", buf)
                    size, opcode = word >> 16, word & 0xFFFF
                    if len(buf) < size:
                        break
                    body, buf = buf[8:size], buf[size:]
                    if obj == 1 and opcode == 1:  # get_registry
                        (rid,) = struct.unpack("<I", body)
                        for name, iface, version in globals_:
                            conn.sendall(encode_message(rid, 0, struct.pack("<I", name) +
                                                        encode_string(iface) +
                                                        struct.pack("<I", version)))
                    elif obj == 1 and opcode == 0:  # sync
                        (cid,) = struct.unpack("<I", body)
                        conn.sendall(encode_message(cid, 0, struct.pack("<I", 0)))
        except OSError:
            return
        finally:
            conn.close()
            server.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_compositor_without_the_toplevel_protocol_is_named(tmp_path):
    _fake_compositor(tmp_path / "wl", [(1, "wl_seat", 7), (2, "wl_compositor", 4)])
    env = {"WAYLAND_DISPLAY": "wl", "XDG_RUNTIME_DIR": str(tmp_path)}
    with pytest.raises(ProbeUnavailable, match="does not offer wlr-foreign-toplevel-management"):
        open_session(env, "wlroots")


def test_a_wlroots_compositor_without_an_idle_protocol_is_named(tmp_path):
    _fake_compositor(tmp_path / "wl", [(1, "wl_seat", 7),
                                       (2, "zwlr_foreign_toplevel_manager_v1", 3)])
    env = {"WAYLAND_DISPLAY": "wl", "XDG_RUNTIME_DIR": str(tmp_path)}
    with pytest.raises(ProbeUnavailable, match="neither ext-idle-notify-v1 nor org_kde_kwin_idle"):
        open_session(env, "wlroots")


def test_wire_arguments_decode():
    body = struct.pack("<Ii", 7, -3) + encode_string("Doc – ünïcode") + \
        struct.pack("<I", 8) + struct.pack("=II", 0, 2)
    assert decode_args("uisa", body) == [7, -3, "Doc – ünïcode", struct.pack("=II", 0, 2)]
    with pytest.raises(ValueError, match="truncated"):
        decode_args("us", struct.pack("<II", 1, 40))
    assert encode_string("abc") == struct.pack("<I", 4) + b"abc\0"
    assert len(encode_string("abcd")) == 4 + 8


def test_activated_state_and_idle_clock():
    assert activated_in(struct.pack("=II", 0, 2)) and not activated_in(struct.pack("=I", 1))
    assert not activated_in(b"")
    now = [100.0]
    idle = WlrootsIdle(180, clock=lambda: now[0])
    assert idle.idle_seconds() == 0.0
    idle.idled()  # the compositor says: no input for the threshold
    now[0] += 5
    assert idle.idle_seconds() == 185.0
    idle.resumed()
    assert idle.idle_seconds() == 0.0


def test_gnome_without_the_extension_names_the_exact_fix(tmp_path):
    """A real (bare) session bus: no extension answers, so the fix is printed."""
    import shutil
    import subprocess
    import time
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not installed")
    address = f"unix:path={tmp_path}/bus"
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address={address}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded: 5 s for the bus to listen
            if (tmp_path / "bus").exists() or daemon.poll() is not None:
                break
            time.sleep(0.05)
        env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "GNOME",
               "DBUS_SESSION_BUS_ADDRESS": address}
        line = diagnose(env)
        assert line == ("no usable probe: the deskpulse GNOME Shell extension is not running "
                        "in this session (enable the deskpulse GNOME Shell extension: python -m "
                        "collector.probes.gnome install (installs deskpulse-focus@deskpulse.dev "
                        "and enables it), then log out and in once)")
    finally:
        daemon.terminate()
        daemon.wait(5)

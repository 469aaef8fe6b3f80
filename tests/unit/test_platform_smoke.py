"""The real Windows and macOS calls on their own desktops (the hosted runners of
.github/workflows/desktop-builds.yml); skipped on other systems, where the logic is tested
against fakes (test_windows_probe.py, test_macos_probe.py)."""

from __future__ import annotations

import sys

import pytest

from collector.probes import WindowInfo


@pytest.mark.skipif(sys.platform != "win32", reason="the real Win32 calls need Windows")
def test_the_real_win32_calls():
    from collector import control
    from collector.probes.windows import User32, WindowsIdle, WindowsProbe
    api = User32()
    assert isinstance(api.foreground_window(), int)
    info = WindowsProbe(api).active_window()
    assert info is None or isinstance(info, WindowInfo)
    assert WindowsIdle(api).idle_seconds() >= 0
    assert control.default_transport() == "tcp"


@pytest.mark.skipif(sys.platform != "darwin", reason="the real macOS calls need macOS")
def test_the_real_macos_calls():
    from collector.probes.macos import MacAway, MacIdle, MacProbe, PyObjC
    api = PyObjC()
    probe = MacProbe(api)
    assert isinstance(probe.accessibility, bool) and isinstance(probe.screen_recording, bool)
    info = probe.active_window()
    assert info is None or isinstance(info, WindowInfo)
    assert MacIdle(api).idle_seconds() >= 0
    MacAway(api).take_cut()

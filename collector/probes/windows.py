"""Windows probe: user32 ``GetForegroundWindow`` / ``GetWindowTextW`` (ctypes), psutil for exe.

Only importable on Windows; not exercised by this repository's CI (Linux).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import wintypes

from collector.probes import WindowInfo
from collector.probes.process import describe_process

_user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]


class WindowsProbe:
    def active_window(self) -> WindowInfo | None:
        hwnd = _user32.GetForegroundWindow()
        if not hwnd:
            return None
        length = _user32.GetWindowTextLengthW(hwnd)
        buffer = ctypes.create_unicode_buffer(length + 1)
        _user32.GetWindowTextW(hwnd, buffer, length + 1)
        pid = wintypes.DWORD()
        _user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
        name, exe = describe_process(int(pid.value))
        app = os.path.splitext(name)[0] if name else "unknown"
        return WindowInfo(app=app, exe=exe, title=buffer.value, pid=int(pid.value))

    def close(self) -> None:
        return None

"""Windows: the foreground window, idle time and lock/sleep, behind one Protocol.

:class:`Win32` is every Windows call the collector makes; :class:`User32` implements it
with ctypes (user32, kernel32, wtsapi32), and the unit tests give the logic a fake
(``tests/unit/test_windows_probe.py``). This repository's CI has no Windows, so the ctypes
part is written, not run here; the logic above it is what the tests pin down:

- **Store / UWP apps** are hosted by ``ApplicationFrameHost.exe``: the foreground window
  belongs to the host, and the app itself owns a child window
  (``Windows.UI.Core.CoreWindow``). The probe reports the child's process (aw-watcher-window
  issue 31), else the app's AppUserModelID (``Microsoft.WindowsCalculator_8wekyb3d8bbwe!App``
  -> ``Microsoft.WindowsCalculator``); a frame with neither is a skipped sample, never
  "ApplicationFrameHost".
- **Elevated or inaccessible windows** (an administrator's console, a process of another
  user): their process cannot be opened, so the sample is skipped (logged once per
  process), not guessed.
- **Idle** comes from ``GetLastInputInfo`` (the time of the last input, system-wide): no
  keyboard or mouse hook is installed at all.
- **Lock, unlock and sleep** (``WTSRegisterSessionNotification``: ``WTS_SESSION_LOCK`` /
  ``UNLOCK``, console and remote disconnects; ``WM_POWERBROADCAST``: ``PBT_APMSUSPEND`` /
  ``PBT_APMRESUME*``) set the same :class:`~collector.session.away.AwayState` as logind does
  on Linux, so they count as away.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Protocol

from collector.probes import WindowInfo
from collector.session.away import AwayState

logger = logging.getLogger(__name__)

FRAME_HOST = "applicationframehost.exe"
CORE_WINDOW = "Windows.UI.Core.CoreWindow"

# WM_WTSSESSION_CHANGE codes (wParam)
WM_WTSSESSION_CHANGE = 0x02B1
WTS_CONSOLE_CONNECT, WTS_CONSOLE_DISCONNECT = 0x1, 0x2
WTS_REMOTE_CONNECT, WTS_REMOTE_DISCONNECT = 0x3, 0x4
WTS_SESSION_LOCK, WTS_SESSION_UNLOCK = 0x7, 0x8
# WM_POWERBROADCAST events (wParam)
WM_POWERBROADCAST = 0x0218
PBT_APMSUSPEND, PBT_APMRESUMESUSPEND, PBT_APMRESUMEAUTOMATIC = 0x4, 0x7, 0x12

LOCKED, DISCONNECTED, ASLEEP = ("screen locked (WTS)", "session disconnected (WTS)",
                                "asleep (suspend)")


class AccessDenied(Exception):
    """The window's process cannot be opened (elevated, another user's, protected)."""


class Win32(Protocol):
    """The Windows calls the probe, the idle source and the away watch make."""

    def foreground_window(self) -> int: ...
    def window_pid(self, hwnd: int) -> int: ...
    def window_title(self, hwnd: int) -> str: ...
    def child_windows(self, hwnd: int) -> list[int]: ...
    def class_name(self, hwnd: int) -> str: ...

    def process_image(self, pid: int) -> str:
        """The executable's full path; :class:`AccessDenied` when it cannot be opened."""
        ...

    def app_user_model_id(self, hwnd: int, pid: int) -> str:
        """The AppUserModelID of a Store app's window or process ("" when it has none)."""
        ...

    def last_input_tick(self) -> int:
        """``GetLastInputInfo().dwTime``: GetTickCount at the last input (32-bit ms)."""
        ...

    def tick_count(self) -> int: ...


def app_from_aumid(aumid: str) -> str:
    """``Microsoft.WindowsCalculator_8wekyb3d8bbwe!App`` -> ``Microsoft.WindowsCalculator``."""
    family = aumid.split("!", 1)[0]
    name, sep, publisher = family.rpartition("_")
    return name if sep and name and publisher else family


def app_from_exe(exe: str) -> str:
    """``C:\\Program Files\\Mozilla Firefox\\firefox.exe`` -> ``firefox``."""
    base = exe.replace("\\", "/").rsplit("/", 1)[-1]
    return os.path.splitext(base)[0] or base


class WindowsProbe:
    def __init__(self, api: Win32 | None = None) -> None:
        self.api = api if api is not None else User32()
        self._denied: set[int] = set()

    def _image(self, pid: int) -> str | None:
        try:
            return self.api.process_image(pid)
        except AccessDenied:
            if pid not in self._denied:
                self._denied.add(pid)
                logger.info("the foreground window's process %d cannot be read (elevated "
                            "or another user's): its samples are skipped", pid)
            return None

    def active_window(self) -> WindowInfo | None:
        api = self.api
        hwnd = api.foreground_window()
        if not hwnd:
            return None  # the desktop, a lock screen, a window switching
        pid = api.window_pid(hwnd)
        if pid <= 0:
            return None  # the window closed between the two calls
        exe = self._image(pid)
        if exe is None:
            return None
        title = api.window_title(hwnd)
        if app_from_exe(exe).lower() + ".exe" == FRAME_HOST:
            return self._store_app(hwnd, pid, title)
        return WindowInfo(app=app_from_exe(exe), exe=exe, title=title, pid=pid)

    def _store_app(self, frame: int, host_pid: int, title: str) -> WindowInfo | None:
        """The app inside ApplicationFrameHost's frame: its CoreWindow's process, else the
        AppUserModelID; None (skipped) when neither can be known."""
        api = self.api
        children = api.child_windows(frame)
        core = [c for c in children if api.class_name(c) == CORE_WINDOW]
        for child in [*core, *(c for c in children if c not in core)]:
            pid = api.window_pid(child)
            if pid > 0 and pid != host_pid:
                exe = self._image(pid)
                if exe is None:
                    return None
                return WindowInfo(app=app_from_exe(exe), exe=exe, title=title, pid=pid)
        aumid = api.app_user_model_id(frame, host_pid)
        if aumid:
            return WindowInfo(app=app_from_aumid(aumid), exe="", title=title, pid=host_pid)
        return None  # a suspended app's empty frame: nothing honest to report

    def close(self) -> None:
        return None


class WindowsIdle:
    """Seconds since the last input, from ``GetLastInputInfo`` (no input hooks)."""

    def __init__(self, api: Win32) -> None:
        self.api = api

    def idle_seconds(self) -> float:
        # both are 32-bit millisecond counters that wrap after 49.7 days
        return ((self.api.tick_count() - self.api.last_input_tick()) & 0xFFFFFFFF) / 1000.0

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class WindowsAway:
    """Session and power notifications as away reasons (pure: fed one message at a time)."""

    name = "WTS session notifications + WM_POWERBROADCAST"

    def __init__(self, state: AwayState | None = None) -> None:
        self.state = state if state is not None else AwayState()
        self._pump: _MessagePump | None = None

    def on_message(self, msg: int, wparam: int) -> None:
        if msg == WM_WTSSESSION_CHANGE:
            if wparam == WTS_SESSION_LOCK:
                self.state.set(LOCKED, True)
            elif wparam == WTS_SESSION_UNLOCK:
                self.state.set(LOCKED, False)
            elif wparam in (WTS_CONSOLE_DISCONNECT, WTS_REMOTE_DISCONNECT):
                self.state.set(DISCONNECTED, True)
            elif wparam in (WTS_CONSOLE_CONNECT, WTS_REMOTE_CONNECT):
                self.state.set(DISCONNECTED, False)
        elif msg == WM_POWERBROADCAST:
            if wparam == PBT_APMSUSPEND:
                self.state.set(ASLEEP, True)
            elif wparam in (PBT_APMRESUMESUSPEND, PBT_APMRESUMEAUTOMATIC):
                self.state.set(ASLEEP, False)

    def away(self) -> bool:
        return self.state.away()

    def take_cut(self) -> int | None:
        return self.state.take_cut()

    def start(self) -> None:
        """Receive the notifications on a hidden window's message loop (Windows only)."""
        self._pump = _MessagePump(self.on_message)
        self._pump.start()

    def close(self) -> None:
        if self._pump is not None:
            self._pump.stop()


def open_windows(choice) -> object:  # collector.probes.select.Session
    """The Windows session: probe, GetLastInputInfo idle, WTS/power away watch."""
    from collector.probes.select import Session
    api = User32()
    away = WindowsAway()
    away.start()
    return Session(WindowsProbe(api), WindowsIdle(api), choice, "GetLastInputInfo",
                   away=away)


# -- ctypes: Windows only, not run by this repository's CI --------------------------------


class User32:  # pragma: no cover - needs Windows
    """:class:`Win32` with ctypes."""

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes
        self._ct, self._wt = ctypes, wintypes
        self._user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        self._kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]

    def foreground_window(self) -> int:
        return int(self._user32.GetForegroundWindow() or 0)

    def window_pid(self, hwnd: int) -> int:
        pid = self._wt.DWORD()
        self._user32.GetWindowThreadProcessId(self._wt.HWND(hwnd), self._ct.byref(pid))
        return int(pid.value)

    def window_title(self, hwnd: int) -> str:
        length = self._user32.GetWindowTextLengthW(self._wt.HWND(hwnd))
        buffer = self._ct.create_unicode_buffer(length + 1)
        self._user32.GetWindowTextW(self._wt.HWND(hwnd), buffer, length + 1)
        return buffer.value

    def child_windows(self, hwnd: int) -> list[int]:
        found: list[int] = []
        proc = self._ct.WINFUNCTYPE(self._wt.BOOL, self._wt.HWND, self._wt.LPARAM)

        def visit(child, _lparam):  # noqa: ANN001 - ctypes callback
            found.append(int(child or 0))
            return True
        self._user32.EnumChildWindows(self._wt.HWND(hwnd), proc(visit), 0)
        return found

    def class_name(self, hwnd: int) -> str:
        buffer = self._ct.create_unicode_buffer(256)
        self._user32.GetClassNameW(self._wt.HWND(hwnd), buffer, 256)
        return buffer.value

    def _open(self, pid: int):  # noqa: ANN202
        process_query_limited_information = 0x1000
        handle = self._kernel32.OpenProcess(process_query_limited_information, False, pid)
        if not handle:
            raise AccessDenied(pid)
        return handle

    def process_image(self, pid: int) -> str:
        handle = self._open(pid)
        try:
            size = self._wt.DWORD(32768)
            buffer = self._ct.create_unicode_buffer(size.value)
            if not self._kernel32.QueryFullProcessImageNameW(handle, 0, buffer,
                                                              self._ct.byref(size)):
                raise AccessDenied(pid)
            return buffer.value
        finally:
            self._kernel32.CloseHandle(handle)

    def app_user_model_id(self, hwnd: int, pid: int) -> str:
        try:
            handle = self._open(pid)
        except AccessDenied:
            return ""
        try:
            length = self._wt.UINT(256)
            buffer = self._ct.create_unicode_buffer(length.value)
            error = self._kernel32.GetApplicationUserModelId(handle, self._ct.byref(length),
                                                             buffer)
            return buffer.value if error == 0 else ""
        finally:
            self._kernel32.CloseHandle(handle)

    def last_input_tick(self) -> int:
        class LASTINPUTINFO(self._ct.Structure):  # noqa: N801 - the Win32 name
            _fields_ = [("cbSize", self._wt.UINT), ("dwTime", self._wt.DWORD)]
        info = LASTINPUTINFO()
        info.cbSize = self._ct.sizeof(info)
        self._user32.GetLastInputInfo(self._ct.byref(info))
        return int(info.dwTime)

    def tick_count(self) -> int:
        return int(self._kernel32.GetTickCount()) & 0xFFFFFFFF


class _MessagePump:  # pragma: no cover - needs Windows
    """A message-only window registered for session and power notifications."""

    def __init__(self, on_message) -> None:  # noqa: ANN001
        self._on_message = on_message
        self._thread = threading.Thread(target=self._run, name="away-windows", daemon=True)
        self._tid = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import ctypes
        from ctypes import wintypes
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        self._tid = ctypes.WinDLL("kernel32").GetCurrentThreadId()  # type: ignore[attr-defined]
        wtsapi32 = ctypes.WinDLL("wtsapi32", use_last_error=True)  # type: ignore[attr-defined]
        wndproc = ctypes.WINFUNCTYPE(ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT,
                                     wintypes.WPARAM, wintypes.LPARAM)

        def proc(hwnd, msg, wparam, lparam):  # noqa: ANN001
            if msg in (WM_WTSSESSION_CHANGE, WM_POWERBROADCAST):
                self._on_message(int(msg), int(wparam))
            return user32.DefWindowProcW(hwnd, msg, wparam, lparam)

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", wndproc),
                        ("cbClsExtra", ctypes.c_int), ("cbWndExtra", ctypes.c_int),
                        ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON),
                        ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                        ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR)]
        self._proc = wndproc(proc)  # kept alive as long as the window
        cls = WNDCLASSW(lpfnWndProc=self._proc, lpszClassName="deskpulse-away")
        user32.RegisterClassW(ctypes.byref(cls))
        hwnd_message = wintypes.HWND(-3)
        hwnd = user32.CreateWindowExW(0, "deskpulse-away", "deskpulse", 0, 0, 0, 0, 0,
                                      hwnd_message, None, None, None)
        notify_for_this_session = 0
        wtsapi32.WTSRegisterSessionNotification(hwnd, notify_for_this_session)
        msg = wintypes.MSG()
        while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
            user32.TranslateMessage(ctypes.byref(msg))
            user32.DispatchMessageW(ctypes.byref(msg))
        wtsapi32.WTSUnRegisterSessionNotification(hwnd)
        user32.DestroyWindow(hwnd)

    def stop(self) -> None:
        if self._tid:
            import ctypes
            wm_quit = 0x0012  # ends GetMessageW's loop
            ctypes.WinDLL("user32").PostThreadMessageW(self._tid, wm_quit, 0, 0)  # type: ignore[attr-defined]
        self._thread.join(2)

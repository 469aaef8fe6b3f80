"""The Windows probe's logic against a fake of the Win32 calls (no Windows here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from collector.agent import Collector
from collector.config import collector_settings
from collector.probes.windows import (
    CORE_WINDOW,
    PBT_APMRESUMEAUTOMATIC,
    PBT_APMSUSPEND,
    WM_POWERBROADCAST,
    WM_WTSSESSION_CHANGE,
    WTS_CONSOLE_CONNECT,
    WTS_CONSOLE_DISCONNECT,
    WTS_SESSION_LOCK,
    WTS_SESSION_UNLOCK,
    AccessDenied,
    WindowsAway,
    WindowsIdle,
    WindowsProbe,
    app_from_aumid,
)
from collector.session.away import AwayState

HOST = r"C:\Windows\System32\ApplicationFrameHost.exe"
CALC = r"C:\Program Files\WindowsApps\Microsoft.WindowsCalculator_11.2_x64__8wekyb3d8bbwe" \
       r"\CalculatorApp.exe"


@dataclass
class Window:
    pid: int
    title: str = ""
    cls: str = "Window"
    children: list[int] = field(default_factory=list)


@dataclass
class FakeWin32:
    windows: dict[int, Window] = field(default_factory=dict)
    images: dict[int, str] = field(default_factory=dict)
    denied: set[int] = field(default_factory=set)
    aumids: dict[int, str] = field(default_factory=dict)
    foreground: int = 0
    last_input: int = 0
    now: int = 0

    def foreground_window(self) -> int:
        return self.foreground

    def window_pid(self, hwnd: int) -> int:
        return self.windows[hwnd].pid if hwnd in self.windows else 0

    def window_title(self, hwnd: int) -> str:
        return self.windows[hwnd].title if hwnd in self.windows else ""

    def child_windows(self, hwnd: int) -> list[int]:
        return list(self.windows[hwnd].children) if hwnd in self.windows else []

    def class_name(self, hwnd: int) -> str:
        return self.windows[hwnd].cls if hwnd in self.windows else ""

    def process_image(self, pid: int) -> str:
        if pid in self.denied:
            raise AccessDenied(pid)
        return self.images[pid]

    def app_user_model_id(self, hwnd: int, pid: int) -> str:
        return self.aumids.get(hwnd, "")

    def last_input_tick(self) -> int:
        return self.last_input

    def tick_count(self) -> int:
        return self.now


def test_a_plain_window_is_its_process():
    api = FakeWin32(windows={1: Window(10, "Inbox - Outlook")},
                    images={10: r"C:\Program Files\Microsoft Office\OUTLOOK.EXE"}, foreground=1)
    info = WindowsProbe(api).active_window()
    assert (info.app, info.title, info.pid) == ("OUTLOOK", "Inbox - Outlook", 10)
    assert info.exe.endswith("OUTLOOK.EXE")


def test_a_store_app_is_the_app_in_the_frame_not_application_frame_host():
    api = FakeWin32(windows={1: Window(20, "Calculator", children=[2, 3]),
                             2: Window(20, cls="ApplicationFrameInputSinkWindow"),
                             3: Window(30, cls=CORE_WINDOW)},
                    images={20: HOST, 30: CALC}, foreground=1)
    info = WindowsProbe(api).active_window()
    assert (info.app, info.title, info.pid, info.exe) == ("CalculatorApp", "Calculator", 30,
                                                          CALC)


def test_a_store_app_without_its_core_window_is_named_by_its_app_user_model_id():
    api = FakeWin32(windows={1: Window(20, "Photos", children=[2]),
                             2: Window(20, cls="ApplicationFrameTitleBarWindow")},
                    images={20: HOST},
                    aumids={1: "Microsoft.Windows.Photos_8wekyb3d8bbwe!App"}, foreground=1)
    info = WindowsProbe(api).active_window()
    assert (info.app, info.title) == ("Microsoft.Windows.Photos", "Photos")


def test_an_empty_frame_is_a_skipped_sample_never_application_frame_host():
    api = FakeWin32(windows={1: Window(20, "", children=[])}, images={20: HOST}, foreground=1)
    assert WindowsProbe(api).active_window() is None


def test_elevated_or_inaccessible_windows_are_skipped_samples(caplog):
    api = FakeWin32(windows={1: Window(40, "Administrator: Command Prompt")}, denied={40},
                    foreground=1)
    probe = WindowsProbe(api)
    with caplog.at_level("INFO"):
        assert probe.active_window() is None
        assert probe.active_window() is None
    assert sum("cannot be read" in r.message for r in caplog.records) == 1, "logged once"
    # a Store app whose own process is elevated: skipped too, not the frame host
    api = FakeWin32(windows={1: Window(20, "x", children=[3]), 3: Window(30, cls=CORE_WINDOW)},
                    images={20: HOST}, denied={30}, foreground=1)
    assert WindowsProbe(api).active_window() is None


def test_no_foreground_window_or_a_window_closed_mid_query_is_skipped():
    assert WindowsProbe(FakeWin32(foreground=0)).active_window() is None
    assert WindowsProbe(FakeWin32(foreground=7)).active_window() is None  # pid 0: gone


@pytest.mark.parametrize(("aumid", "app"), [
    ("Microsoft.WindowsCalculator_8wekyb3d8bbwe!App", "Microsoft.WindowsCalculator"),
    ("Microsoft.ZuneMusic_8wekyb3d8bbwe!Microsoft.ZuneMusic", "Microsoft.ZuneMusic"),
    ("Contoso.App", "Contoso.App"),  # no publisher id: as it is
])
def test_app_names_from_app_user_model_ids(aumid, app):
    assert app_from_aumid(aumid) == app


def test_idle_is_the_time_since_get_last_input_info_and_survives_the_tick_wrap():
    api = FakeWin32(last_input=1_000, now=181_000)
    assert WindowsIdle(api).idle_seconds() == 180.0
    api.last_input, api.now = 0xFFFFFFFF - 999, 1_000  # GetTickCount wrapped after 49.7 days
    assert WindowsIdle(api).idle_seconds() == 2.0


def test_lock_disconnect_and_sleep_are_away_until_they_end():
    clock = iter(range(100, 10_000)).__next__
    away = WindowsAway(AwayState(clock=lambda: float(clock())))
    assert not away.away()
    away.on_message(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)
    assert away.away() and away.take_cut() == 100_000
    away.on_message(WM_POWERBROADCAST, PBT_APMSUSPEND)  # locked, then asleep
    away.on_message(WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC)
    assert away.away(), "still locked after the wake-up"
    away.on_message(WM_WTSSESSION_CHANGE, WTS_SESSION_UNLOCK)
    assert not away.away()
    away.on_message(WM_WTSSESSION_CHANGE, WTS_CONSOLE_DISCONNECT)  # fast user switching
    assert away.away()
    away.on_message(WM_WTSSESSION_CHANGE, WTS_CONSOLE_CONNECT)
    assert not away.away()
    away.on_message(0x0010, WTS_SESSION_LOCK)  # another message with the same wParam
    assert not away.away()


class _Spool:
    next_seq = 0

    def __init__(self):
        self.events = []

    def put(self, events, next_seq):
        self.events += events
        return len(events)

    def get_meta(self, key):
        return 0

    def set_meta(self, key, value):
        pass

    def __len__(self):
        return len(self.events)


def test_a_locked_windows_session_closes_the_span_and_records_nothing(tmp_path):
    """The probe, idle source and away watch together in the real run loop's tick."""
    now = [1_000.0]
    api = FakeWin32(windows={1: Window(10, "Report.docx - Word")},
                    images={10: r"C:\Office\WINWORD.EXE"}, foreground=1, now=5_000,
                    last_input=5_000)
    away = WindowsAway(AwayState(clock=lambda: now[0]))
    settings = collector_settings({"user": "ann", "host": "pc1", "max_span": 3600}, {},
                                  tenant="default", data_dir=tmp_path)
    spool = _Spool()
    collector = Collector(settings, probe=WindowsProbe(api), idle=WindowsIdle(api),
                          spool=spool, publisher=None, clock=lambda: now[0], away=away)
    for _ in range(5):
        collector.tick()
        now[0] += 1
    away.on_message(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)  # at 1005 s
    for _ in range(5):
        now[0] += 1
        collector.tick()
    assert [(e.app, e.start_ms, e.end_ms) for e in spool.events] == \
        [("WINWORD", 1_000_000, 1_005_000)]

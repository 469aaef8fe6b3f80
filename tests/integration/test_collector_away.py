"""Lock and suspend are away time on X11: logind's LockedHint and PrepareForSleep.

A real X desktop (Xvfb), a private system bus with python-dbusmock's logind (the way
GNOME's own CI provides logind), the real collector publishing to the real broker.
The X11 probe keeps seeing the window while "locked": only the away watch keeps
that time out of the record.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for
from tests.helpers.collector_proc import CollectorProc
from tests.helpers.wayland import system_bus
from tests.integration.test_collector_x11 import published
from tests.integration.xdesktop import x_desktop

pytestmark = pytest.mark.integration


def now_ms() -> int:
    return int(time.time() * 1000)


def test_locked_and_sleeping_time_is_never_active_on_x11(broker, tmp_path):
    with system_bus(tmp_path) as bus, x_desktop(tmp_path) as (desk, _):
        bus.add_session("x1", 0, "root")
        desk.env.update({**bus.env, "XDG_SESSION_ID": "x1"})
        desk.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        desk.open_window("Lock doc", "Lockapp")
        desk.activate("Lock doc")
        proc = CollectorProc(tmp_path, desk, broker, user="x-away", idle_threshold=60)
        proc.start()
        assert "logind LockedHint + PrepareForSleep" in proc.status()["session"]["away"]
        time.sleep(1.5)
        bus.set_locked_hint("x1", True)
        wait_for(lambda: proc.status()["away"], 30, "the collector to see the lock")
        # The collector takes the lock's moment when logind's signal reaches its watch
        # thread: some time after SetLockedHint is called here, how long depends on the load.
        # What holds is that it took it before it reported being away.
        locked = now_ms()
        time.sleep(2.0)
        unlocked = now_ms()
        bus.set_locked_hint("x1", False)
        wait_for(lambda: not proc.status()["away"], 30, "the collector to see the unlock")
        time.sleep(1.5)
        bus.prepare_for_sleep(True)
        wait_for(lambda: proc.status()["away"], 30, "the collector to see the suspend")
        asleep = now_ms()
        time.sleep(2.0)
        woke = now_ms()
        bus.prepare_for_sleep(False)
        wait_for(lambda: not proc.status()["away"], 30, "the collector to see the resume")
        time.sleep(1.5)
        assert proc.stop() == 0
    events = published(broker, "x-away", expect_at_least=3)
    assert {e["app"] for e in events} == {"Lockapp"}
    for start, end in ((locked, unlocked), (asleep, woke)):
        inside = [e for e in events if e["start_ms"] < end and e["end_ms"] > start]
        assert not inside, f"away time recorded: {inside}"
    assert any(e["end_ms"] <= locked for e in events), "recorded before the lock"
    assert any(unlocked <= e["start_ms"] <= asleep for e in events), "between the two"
    assert any(e["start_ms"] >= woke for e in events), "recording again after the resume"

"""The tray indicator on a real session bus with a real StatusNotifierWatcher.

``dbus-daemon`` and ``status-notifier-watcher`` (Debian's haskell-status-notifier-item-
utils, the watcher side of the protocol, headless) are started here; the test then acts
as a host: it finds the item through the watcher and drives the dbusmenu over the bus
(``GetLayout``, ``Event "clicked"``) as a panel would. The collector loop is the real
one, with the fake probe and Kafka of the unit tests (no desktop is needed here).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from jeepney import DBusAddress, MatchRule, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.mydata.tray import ITEM_PATH, MENU, MENU_PATH, SNI, Tray
from collector.spool import Spool
from deskpulse.core.procs import Child
from tests.conftest import wait_for
from tests.unit.test_agent import Clock, FakePublisher, Idle, Probe

pytestmark = pytest.mark.integration

WATCHER = DBusAddress("/StatusNotifierWatcher", bus_name="org.kde.StatusNotifierWatcher",
                      interface="org.kde.StatusNotifierWatcher")


@pytest.fixture()
def session_bus(tmp_path):
    for tool in ("dbus-daemon", "status-notifier-watcher"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: .ci/run installs dbus and "
                        "haskell-status-notifier-item-utils")
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        daemon.terminate()
        daemon.wait(10)


def start_watcher(address: str, tmp_path) -> Child:
    watcher = Child("watcher", ["status-notifier-watcher"], tmp_path / "watcher.log",
                    env={"DBUS_SESSION_BUS_ADDRESS": address, "PATH": "/usr/bin:/bin"})
    return watcher


def call(conn, address: DBusAddress, method: str, sig=None, body=()):
    reply = conn.send_and_get_reply(new_method_call(address, method, sig, body), timeout=10)
    return reply.body


def prop(conn, bus_name: str, path: str, iface: str, name: str):
    props = DBusAddress(path, bus_name=bus_name, interface="org.freedesktop.DBus.Properties")
    return call(conn, props, "Get", "ss", (iface, name))[0][1]


def labels(layout) -> dict[str, tuple[int, bool]]:
    _, (_, _, children) = layout
    out = {}
    for _, (item_id, props, _) in children:
        if "label" in props:
            out[props["label"][1]] = (item_id, props["enabled"][1])
    return out


@pytest.fixture()
def collector(tmp_path):
    clock = Clock()
    clock.now = time.time()
    return Collector(CollectorSettings(user="alice", host="pc"), probe=Probe(), idle=Idle(),
                     spool=Spool(tmp_path / "spool.db"), publisher=FakePublisher(),
                     clock=clock)


def test_the_tray_item_registers_with_the_watcher_and_its_menu_pauses(session_bus, tmp_path,
                                                                       collector):
    watcher = start_watcher(session_bus, tmp_path)
    host = open_dbus_connection(session_bus)
    opened: list[int] = []
    tray = Tray(collector, lambda: opened.append(1), bus_address=session_bus)
    try:
        wait_for(lambda: call(host, message_bus, "NameHasOwner", "s",
                              ("org.kde.StatusNotifierWatcher",))[0], 20, "the watcher")
        assert tray.start()
        wait_for(lambda: any(tray.name in item for item in prop(
            host, WATCHER.bus_name, WATCHER.object_path, WATCHER.interface,
            "RegisteredStatusNotifierItems")), 20, "the item registered with the watcher")

        item = (tray.name, ITEM_PATH, SNI)
        assert prop(host, *item, "Id") == "deskpulse"
        assert prop(host, *item, "IconName") == "media-record"
        assert prop(host, *item, "Menu") == MENU_PATH
        menu = DBusAddress(MENU_PATH, bus_name=tray.name, interface=MENU)
        shown = labels(call(host, menu, "GetLayout", "iias", (0, -1, [])))
        assert shown["Pause for 15 minutes"][1] and not shown["Resume recording"][1]
        assert shown["deskpulse is recording"][1] is False  # the state line is a label

        host.send_and_get_reply(message_bus.AddMatch(MatchRule(
            type="signal", interface=MENU, member="LayoutUpdated")), timeout=10)
        with host.filter(MatchRule(type="signal", interface=MENU,
                                   member="LayoutUpdated")) as updates:
            call(host, menu, "Event", "isvu",
                 (shown["Pause for 15 minutes"][0], "clicked", ("s", ""), 0))
            assert collector.pause is not None
            # the collector's clock is the fixture's fake one: the pause starts at its now
            # and lasts exactly 15 minutes, however long the watcher took to come up
            assert collector.pause.since_ms == collector.now_ms()
            assert collector.pause.until_ms == collector.pause.since_ms + 900_000
            host.recv_until_filtered(updates, timeout=10)  # the host is told to reload
        assert prop(host, *item, "IconName") == "media-playback-pause"
        assert "until" in prop(host, *item, "ToolTip")[3]
        shown = labels(call(host, menu, "GetLayout", "iias", (0, -1, [])))
        assert not shown["Pause for 15 minutes"][1] and shown["Resume recording"][1]

        call(host, menu, "Event", "isvu", (shown["Resume recording"][0], "clicked",
                                           ("s", ""), 0))
        assert collector.pause is None
        call(host, menu, "Event", "isvu", (shown["Pause until I resume"][0], "clicked",
                                           ("s", ""), 0))
        assert collector.pause is not None and collector.pause.until_ms is None
        call(host, menu, "Event", "isvu", (shown["Open my data"][0], "clicked", ("s", ""), 0))
        assert opened == [1]
    finally:
        tray.stop()
        host.close()
        watcher.stop(timeout=5)


def test_without_a_watcher_there_is_no_icon_and_the_collector_runs_on(session_bus,
                                                                       collector):
    tray = Tray(collector, None, bus_address=session_bus)
    try:
        assert tray.start()
        time.sleep(1.5)
        assert not tray.registered and tray._thread.is_alive()
    finally:
        tray.stop()
    assert not Tray(collector, None, bus_address="").start(), "no bus: no tray"

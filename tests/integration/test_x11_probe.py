"""The X11 probe on a real X server (Xvfb + openbox): it follows the server's property
events and asks only after one, and a missed event is caught by the slow re-query."""

from __future__ import annotations

import pytest
from Xlib import display

from collector.probes.x11 import X11Probe
from tests.conftest import wait_for
from tests.integration.xdesktop import x_desktop

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def window_id(desk, title: str) -> int:
    return int(desk.xdotool("search", "--name", f"^{title}$").split()[0])


def retitle(desk, window_id: int, new: str) -> None:
    """Another client renames the window (as an editor does when a file is saved)."""
    d = display.Display(desk.display)
    try:
        window = d.create_resource_object("window", window_id)
        window.change_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"), 8,
                               new.encode())
        window.set_wm_name(new)
        d.sync()
    finally:
        d.close()


@pytest.fixture()
def desk(tmp_path):
    with x_desktop(tmp_path) as (desk, _xvfb):
        desk.open_window("Alpha doc", "Alphaapp")
        desk.open_window("Beta sheet", "Betaapp")
        desk.activate("Alpha doc")
        yield desk


def test_focus_and_title_changes_are_seen_and_nothing_is_asked_without_one(desk):
    clock = Clock()
    probe = X11Probe(desk.display, requery_s=3600, clock=clock)
    asked = []
    real_ask = probe._ask  # noqa: SLF001
    probe._ask = lambda: asked.append(1) or real_ask()  # noqa: SLF001
    alpha = window_id(desk, "Alpha doc")
    try:
        assert probe.active_window().title == "Alpha doc"
        for _ in range(5):
            assert probe.active_window().title == "Alpha doc"
        assert len(asked) == 1, "no event, no question to the server"
        retitle(desk, alpha, "Alpha doc (saved)")
        wait_for(lambda: probe.active_window().title == "Alpha doc (saved)", 10,
                 "the title's PropertyNotify")
        desk.activate("Beta sheet")
        wait_for(lambda: (w := probe.active_window()) and w.app == "Betaapp", 10,
                 "_NET_ACTIVE_WINDOW's PropertyNotify")
        assert probe.active_window().title == "Beta sheet"
        retitle(desk, alpha, "Alpha doc again")  # no longer the active one
        asked.clear()
        for _ in range(3):
            assert probe.active_window().title == "Beta sheet"
        assert len(asked) <= 1, "a window in the background is not followed"
    finally:
        probe.close()


def test_a_missed_event_leaves_a_stale_window_for_one_requery_period_at_most(desk):
    clock = Clock()
    probe = X11Probe(desk.display, requery_s=30, clock=clock)
    try:
        assert probe.active_window().title == "Alpha doc"
        probe._changed = lambda: False  # noqa: SLF001 - every event is lost from now on
        retitle(desk, window_id(desk, "Alpha doc"), "Alpha doc v2")
        desk.activate("Beta sheet")
        for _ in range(29):
            clock.now += 1
            assert probe.active_window().title == "Alpha doc"  # stale, for now
        clock.now += 1
        window = probe.active_window()
        assert (window.app, window.title) == ("Betaapp", "Beta sheet"), "the re-query"
    finally:
        probe.close()

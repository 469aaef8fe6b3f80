"""X11 idle time from the server's MIT-SCREEN-SAVER counter (pure logic, a fake root window)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from collector.probes import ProbeLost
from collector.probes.x11 import X11Idle
from collector.probes.xproto import BAD_DRAWABLE, XConnectionLost, XError


class Root:
    """The connection's screensaver query, answering for the root window only."""

    def __init__(self) -> None:
        self.idle_ms: int | Exception = 0

    def screensaver_idle_ms(self, drawable: int) -> int:
        assert drawable == 0x2A
        if isinstance(self.idle_ms, Exception):
            raise self.idle_ms
        return self.idle_ms


def idle_source(root: Root, now: list[float]) -> X11Idle:
    probe = SimpleNamespace(_root=0x2A, _d=root)
    return X11Idle(probe, clock=lambda: now[0])  # type: ignore[arg-type]


def test_idle_is_the_servers_counter_but_never_more_than_since_the_start():
    root, now = Root(), [100.0]
    idle = idle_source(root, now)
    idle.start()
    root.idle_ms = 600_000  # the server saw no input for 10 min before the collector started
    now[0] = 101.5
    assert idle.idle_seconds() == 1.5  # as the input listeners counted: from the start
    now[0] = 400.0
    assert idle.idle_seconds() == 300.0
    root.idle_ms = 250  # input a quarter second ago
    assert idle.idle_seconds() == 0.25


def test_an_unanswered_query_counts_as_active_and_a_gone_server_as_lost():
    root, now = Root(), [0.0]
    idle = idle_source(root, now)
    now[0] = 50.0
    root.idle_ms = XError(BAD_DRAWABLE, 140)
    assert idle.idle_seconds() == 0.0
    root.idle_ms = XConnectionLost("the X server closed the connection")
    with pytest.raises(ProbeLost, match="X server went away"):
        idle.idle_seconds()

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


# -- with the collector's threshold: asked only when the answer can matter ----------------
class Server:
    """The MIT-SCREEN-SAVER counter: input at chosen moments, idle grows with the clock."""

    def __init__(self, clock) -> None:
        self.clock, self.last_input, self.asked = clock, clock(), 0

    def screensaver_idle_ms(self, drawable: int) -> int:
        self.asked += 1
        return int((self.clock() - self.last_input) * 1000)


def rig(threshold_s):
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    server = Server(clock)
    idle = X11Idle(SimpleNamespace(_root=0x2A, _d=server), clock=clock,  # type: ignore[arg-type]
                   threshold_s=threshold_s)
    return now, server, idle


def test_every_sample_is_judged_as_the_server_would_judge_it():
    now, server, idle = rig(threshold_s=10)
    seen, inputs = [], {3, 4, 25, 26, 27, 60}
    for second in range(1, 90):
        now[0] = float(second)
        if second in inputs:
            server.last_input = now[0] - 0.5  # input half a second before this sample
        truth = min(now[0], now[0] - server.last_input) >= 10
        seen.append(idle.idle_seconds() >= 10)
        assert seen[-1] == truth, f"second {second}"
    assert True in seen and False in seen


def test_while_active_the_server_is_asked_about_once_a_threshold():
    now, server, idle = rig(threshold_s=10)
    for second in range(1, 61):
        now[0] = float(second)
        if second % 3 == 0:
            server.last_input = now[0]  # typing every 3 s: never idle
        assert idle.idle_seconds() < 10
    assert server.asked <= 60 // 6, f"asked {server.asked} times in 60 active samples"


def test_without_a_threshold_every_sample_asks():
    now, server, idle = rig(threshold_s=None)
    for second in range(1, 11):
        now[0] = float(second)
        idle.idle_seconds()
    assert server.asked == 10

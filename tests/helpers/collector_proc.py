"""`deskpulse collect` as a separate process for tests, configured through a config file."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import orjson

from collector.control import request
from deskpulse.core.errors import DeskpulseError
from deskpulse.core.procs import Child
from tests.conftest import wait_for

POLL_MS = 500  # the poll_interval CollectorProc configures


def assert_focused(spans: list[tuple[int, int]], asked: int, seen: int, next_asked: int,
                   next_seen: int, poll_ms: int = POLL_MS) -> None:
    """A window's spans (start, end ms, in order) match when the test focused it and away.

    The test asked for the focus at ``asked``, and the collector had sampled the window by
    ``seen`` (:meth:`CollectorProc.sampled_now_ms`); likewise for the next window. The first
    span starts with the first sample showing the window, the last ends with the first
    sample showing the next one; a sample reads its clock just before it looks at the
    window, hence one poll interval before ``asked``. Between the two edges the time is
    counted in full, but for the gaps the span builder leaves out (no sample for longer
    than pulsetime, a stalled collector): none on a machine that keeps up.
    The bounds move with the machine's speed instead of guessing it.
    """
    assert spans, "no span of the window"
    start, end = spans[0][0], spans[-1][1]
    assert asked - poll_ms <= start <= seen, ("start", start - asked, seen - asked)
    assert next_asked - poll_ms <= end <= next_seen, ("end", end - next_asked,
                                                      next_seen - next_asked)
    counted = sum(e - s for s, e in spans)
    assert counted >= next_asked - seen - poll_ms, (counted, next_asked - seen)


class CollectorProc:
    """`deskpulse collect` as a separate process, configured through a config file."""

    def __init__(self, tmp: Path, desktop, bootstrap: str, user: str, **collector) -> None:
        self.tmp, self.user = tmp, user
        self.socket = tmp / "ctl.sock"
        self.log = tmp / "collector.log"
        self.spool = tmp / "spool.db"
        settings = {"user": user, "host": "xvfb-host", "poll_interval": POLL_MS / 1000,
                    "pulsetime": 1.5,
                    "idle_threshold": 2, "control_socket": str(self.socket),
                    "log_file": str(self.log), "spool_path": str(self.spool), **collector}
        body = "\n".join(f"{k} = {orjson.dumps(v).decode()}" for k, v in settings.items())
        self.config = tmp / "config.toml"
        self.config.write_text(f"[collector]\n{body}\n")
        self.env = {**desktop.env, "DESKPULSE_CONFIG": str(self.config),
                    "DESKPULSE_BOOTSTRAP": bootstrap, "DESKPULSE_DATA_DIR": str(tmp)}
        self.child: Child | None = None

    def start(self) -> None:
        self.child = Child("collector", [sys.executable, "-m", "deskpulse.cli", "collect"],
                           self.tmp / "collector.out", env=self.env)
        def answering() -> bool:
            assert self.child.alive(), self.child.log_tail()
            try:
                self.status()
                return True
            except DeskpulseError:  # not listening yet (or a stale socket of a killed one)
                return False
        wait_for(answering, 30, "the collector's control socket")

    def status(self) -> dict:
        return request(self.socket, {"cmd": "status"})

    def sampled_now_ms(self, timeout: float = 30) -> int:
        """Wait until the collector has sampled the desktop as it is now; the test's clock
        then (epoch ms), a moment no earlier than that sample.

        A sample that counted after the status read here may have been taken before it
        (the sample in progress), the one after it was not: so two more. Bounds a span's
        end by what the collector did, not by a guess of its lag on a loaded machine.
        """
        seen = self.status()["samples"]
        wait_for(lambda: self.status()["samples"] >= seen + 2, timeout,
                 "the collector to sample the desktop twice more")
        return int(time.time() * 1000)

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop(timeout=30)

    def kill9(self) -> None:
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.proc.wait(10)

"""Clocking a child process by its ``/health`` counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from deskpulse.core.procs import Child, http_json


@dataclass(frozen=True)
class Clocked:
    seconds: float
    #: the counter when the clock started (work done before it is not timed)
    counted_before: int
    body: dict


def clock(url: str, child: Child, counter: str, target: int,
          started: Callable[[dict], bool], timeout: float = 900) -> Clocked:
    """Seconds from the first ``/health`` answer for which ``started`` holds to ``target``."""
    first: tuple[float, int] | None = None
    body: dict = {}
    done = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.alive(), child.log_tail()
        try:
            _, answer = http_json(url, timeout=2)
            body = answer if isinstance(answer, dict) else {}
        except OSError:
            body = {}
        now = time.monotonic()
        if first is None and body and started(body):
            first = (now, int(body.get(counter, 0)))
        done = int(body.get(counter, 0)) if first is not None else 0
        if done >= target:
            break
        time.sleep(0.05)
    assert first is not None and done >= target, f"{child.name}: {counter} {done}/{target}"
    return Clocked(round(now - first[0], 2), first[1], body)

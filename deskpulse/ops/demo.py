"""The demo's wait: until every simulated event is stored (span and rollup) or dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deskpulse.core.errors import StackError

STORED_EVENTS_SQL = """
SELECT (SELECT uniqExact(event_id) FROM deskpulse.spans_store WHERE end = start)
     + least((SELECT uniqExact(event_id) FROM deskpulse.spans_store WHERE end > start),
             (SELECT uniqExact(event_key) FROM deskpulse.minutes_store))
     + (SELECT count() FROM deskpulse.deadletter)"""


def wait_until_stored(store: Any, expected: int, timeout: float,
                      echo: Callable[[str], None], stack: Any = None) -> int:
    """Poll until ``expected`` events are stored (span and rollup) or dead-lettered."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        dead = stack.dead_child() if stack is not None else None
        if dead is not None:
            raise StackError(f"{dead.name} exited with code {dead.proc.returncode}; last lines "
                             f"of {dead.log_path}:\n{dead.log_tail()}")
        # spans and rollups arrive through different topics: an event with time counts once
        # both are in (a zero-length one has no rollup rows)
        _, rows = store.query(STORED_EVENTS_SQL)
        seen = int(rows[0][0])
        echo(f"\r  stored {seen}/{expected} events")
        if seen >= expected:
            echo("\n")
            return seen
        time.sleep(1.0)
    echo("\n")
    return seen

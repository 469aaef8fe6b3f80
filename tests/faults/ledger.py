"""What the fault tests' ledger needs besides the pipeline: the test's time budget, and
what to say when events are missing.

:class:`Budget`: every wait of a fault test takes at most what is left of the test's own
``pytest.mark.timeout`` (less what the teardown needs), so a stalled pipeline is reported
by the ledger, with what is missing, and never cut off silently by pytest-timeout.

:func:`seq_ranges` and :func:`missing_report`: which events of which collector are missing
(``c<collector>-<seq>``), as seq ranges, and where the pipeline stands (consumer groups'
committed offsets against the high watermarks, the worker's and the sink's ``/health``,
their log tails).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable

import pytest

#: what the teardown after the ledger may take: stopping the worker and the sink (SIGTERM,
#: up to 20 s each, about 2 s normally) and the brokers (10 s, then SIGKILL)
TEARDOWN_S = 60.0

_EVENT_ID = re.compile(r"c(\d+)-(\d+)\Z")
#: librdkafka's connection chatter, which fills the logs of a run through broker faults
_RDKAFKA_NOISE = re.compile(r"^(%\d\|\d+\.\d+\|(FAIL|GETPID)\||(FAIL|GETPID) \[)")


class Budget:
    """The time left of a test that started ``total_s`` seconds before its timeout."""

    def __init__(self, total_s: float, reserve_s: float = TEARDOWN_S) -> None:
        if total_s <= reserve_s:
            raise ValueError(f"a budget of {total_s:.0f}s leaves nothing after the "
                             f"teardown's {reserve_s:.0f}s")
        self.total_s = total_s
        self.started = time.monotonic()
        self.deadline = self.started + total_s - reserve_s
        self._marks: list[tuple[str, float]] = []

    @classmethod
    def of(cls, request: pytest.FixtureRequest) -> Budget:
        """The budget of the requesting test: its ``pytest.mark.timeout``."""
        marker = request.node.get_closest_marker("timeout")
        if marker is None or not marker.args:
            raise pytest.UsageError(f"{request.node.nodeid}: a fault test declares its "
                                    "budget with @pytest.mark.timeout(seconds)")
        return cls(float(marker.args[0]))

    def mark(self, done: str) -> None:
        """Note that the phase ``done`` ended now (for :meth:`spent`)."""
        self._marks.append((done, time.monotonic()))

    def spent(self) -> str:
        """How long each marked phase took, and the whole test so far, of its budget."""
        parts, since = [], self.started
        for done, at in self._marks:
            parts.append(f"{done} {at - since:.0f}s")
            since = at
        return (f"{time.monotonic() - self.started:.0f}s of the {self.total_s:.0f}s budget"
                + (f" ({', '.join(parts)})" if parts else ""))

    def left(self, cap: float, keep: float = 0.0) -> float:
        """``cap`` seconds, or what is left of the budget less ``keep`` (time needed after
        the wait) if that is less; at least 1 s."""
        return max(1.0, min(cap, self.deadline - keep - time.monotonic()))


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of ``seqs`` as (first, last) pairs, in order."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def _ranges_text(seqs: Iterable[int], limit: int = 12) -> str:
    ranges = seq_ranges(seqs)
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit])
    return text + (f", ... ({len(ranges) - limit} more ranges)" if len(ranges) > limit else "")


def missing_by_collector(expected: Iterable[str], stored: Iterable[str]
                         ) -> tuple[dict[int, list[int]], list[str]]:
    """Per collector, the seqs of the expected events not stored; and stored unknown ids."""
    want, have = set(expected), set(stored)
    missing: dict[int, list[int]] = defaultdict(list)
    for event_id in want - have:
        match = _EVENT_ID.match(event_id)
        assert match, f"not an event id of the fleet: {event_id!r}"
        missing[int(match.group(1))].append(int(match.group(2)))
    return dict(sorted(missing.items())), sorted(have - want)


def describe_missing(expected: Iterable[str], stored: Iterable[str],
                     made: dict[int, int]) -> str:
    """``lost N of M``, then per collector how many of how many and the seq ranges."""
    expected = list(expected)
    missing, unknown = missing_by_collector(expected, stored)
    lines = [f"{sum(map(len, missing.values()))} of {len(expected)} events not in "
             f"ClickHouse, {len(unknown)} unknown ones there"
             + (f" (e.g. {unknown[:5]})" if unknown else "")]
    for n, seqs in missing.items():
        lines.append(f"  collector {n}: {len(seqs)} of {made.get(n, '?')} missing, seq "
                     f"{_ranges_text(seqs)}")
    return "\n".join(lines)


def log_tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a log without librdkafka's connection chatter."""
    kept = [line for line in text.splitlines() if not _RDKAFKA_NOISE.match(line)]
    return "\n".join(kept[-lines:])

"""Away state, the pure part of every lock/suspend watch (Linux, Windows, macOS).

The watches (``collector.session.lock`` on Linux, ``collector.probes.windows`` and
``collector.probes.macos``) set reasons on and off as the OS reports them; the collector
asks :meth:`AwayState.away` every sample and :meth:`AwayState.take_cut` for the moment an
away period began. No imports beyond the standard library: it loads on every platform.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class AwayState:
    """Which away reasons hold now, and the not-yet-taken start of the last away period."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._reasons: set[str] = set()
        self._cut: int | None = None
        self._lock = threading.Lock()

    def set(self, reason: str, on: bool) -> None:
        with self._lock:
            was, changed = bool(self._reasons), (reason in self._reasons) != on
            if on:
                self._reasons.add(reason)
            else:
                self._reasons.discard(reason)
            if on and not was and self._cut is None:
                self._cut = int(self._clock() * 1000)
        if changed:
            logger.info("%s: %s", reason, "began (away)" if on else "ended")

    def passed(self, reason: str, since_ms: int) -> None:
        """An away period from ``since_ms`` that is over already (a sleep noticed on wake-up):
        the open span ends at ``since_ms``."""
        with self._lock:
            if self._cut is None or since_ms < self._cut:
                self._cut = since_ms
        logger.info("%s: %.0f s (away)", reason, self._clock() - since_ms / 1000)

    def away(self) -> bool:
        with self._lock:
            return bool(self._reasons)

    def reasons(self) -> set[str]:
        with self._lock:
            return set(self._reasons)

    def take_cut(self) -> int | None:
        with self._lock:
            cut, self._cut = self._cut, None
            return cut

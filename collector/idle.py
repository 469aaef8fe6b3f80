"""Idle detection: the collector learns only *that* input happened, and when.

pynput listeners call :meth:`InputActivity.touch`, which takes the listener's
arguments (a key, a position) and discards them unread: no key identity,
character or position is ever looked at, stored or logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from collector.probes import ProbeUnavailable

logger = logging.getLogger(__name__)


class InputActivity:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._listeners: list[object] = []

    def touch(self, *_discarded: object) -> None:
        """Input happened. The arguments are deliberately never read."""
        self._last = self._clock()

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._last)

    def start(self) -> None:
        """Start pynput's mouse and keyboard listeners (imported here: they need a display)."""
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:  # pynput raises ImportError when no display is reachable
            raise ProbeUnavailable(f"cannot listen for input: {exc}") from exc
        touch = self.touch
        self._listeners = [
            keyboard.Listener(on_press=touch, on_release=touch),
            mouse.Listener(on_move=touch, on_click=touch, on_scroll=touch),
        ]
        for listener in self._listeners:
            listener.daemon = True  # type: ignore[attr-defined]
            listener.start()  # type: ignore[attr-defined]

    def stop(self) -> None:
        for listener in self._listeners:
            try:
                listener.stop()  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - the display may be gone (logout): any
                # backend error of pynput's stop is moot then, and must not hide the exit
                logger.debug("input listener did not stop cleanly: %r", exc)
        self._listeners = []

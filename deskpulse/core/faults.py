"""Fault injection points for the fault tests: inert unless ``DESKPULSE_FAULT`` names one.

A process started with ``DESKPULSE_FAULT=<point>`` kills itself with SIGKILL the
first time it reaches that point, exactly as ``kill -9`` would at the worst
moment. Points: ``sink.after_write`` (rows written, offsets not committed).

``DESKPULSE_FAULT=<window>=<seconds>`` opens a failure window instead: for that many
seconds after the process started, :func:`failing` answers True. Windows:
``sink.write`` (every ClickHouse write fails, as with the store unreachable).
"""

from __future__ import annotations

import logging
import os
import signal
import time

logger = logging.getLogger(__name__)

ENV = "DESKPULSE_FAULT"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        logger.error("fault injection: SIGKILL at %s", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


_STARTED = time.monotonic()


def failing(window: str) -> bool:
    name, _, seconds = os.environ.get(ENV, "").partition("=")
    return name == window and seconds.replace(".", "", 1).isdigit() and \
        time.monotonic() - _STARTED < float(seconds)

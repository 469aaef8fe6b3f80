"""Fault injection points for the fault tests: inert unless ``DESKPULSE_FAULT`` names one.

A process started with ``DESKPULSE_FAULT=<point>`` kills itself with SIGKILL the
first time it reaches that point, exactly as ``kill -9`` would at the worst
moment. Points: ``sink.after_write`` (rows written, offsets not committed).
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

ENV = "DESKPULSE_FAULT"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        logger.error("fault injection: SIGKILL at %s", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)

"""Logging set-up for entry points only (libraries just call ``logging.getLogger``)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_process_logging(level: str = "INFO", logfile: Path | None = None) -> None:
    """Log to stderr, or to a rotating file when ``logfile`` is given."""
    handler: logging.Handler
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(logfile, maxBytes=5_000_000,
                                                       backupCount=3)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

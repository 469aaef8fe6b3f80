"""Logging set-up for entry points only (libraries just call ``logging.getLogger``)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class RateLimit(logging.Filter):
    """Lets the same message through at most once per ``period`` seconds (counts the rest).

    librdkafka reports every failed reconnect; during a broker outage of hours
    that must not fill the log.
    """

    def __init__(self, period: float = 60.0) -> None:
        super().__init__()
        self.period = period
        self._last: dict[str, tuple[float | None, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        import re
        import time
        key = re.sub(r"\d+", "#", record.getMessage())[:200]
        now = time.monotonic()
        seen, suppressed = self._last.get(key, (None, 0))
        if seen is not None and now - seen < self.period:
            self._last[key] = (seen, suppressed + 1)
            return False
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it)"
        self._last[key] = (now, 0)
        if len(self._last) > 1000:
            self._last.clear()
        return True


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
    kafka = logging.getLogger("collector.kafka")
    if not any(isinstance(f, RateLimit) for f in kafka.filters):
        kafka.addFilter(RateLimit())

"""Logging set-up for entry points only (libraries just call ``logging.getLogger``).

A log file rotates by size through :class:`RotatingFile` (the standard library's rule and
names, ``.1`` .. ``.N``), not ``logging.handlers``, whose module loads ``pickle``,
``queue`` and ``socket`` handlers nobody here uses: ~0.7 MB of the collector's RSS budget.
"""

from __future__ import annotations

import logging
import os
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


class RotatingFile(logging.FileHandler):
    """Appends to ``path``; a record that would take it to ``max_bytes`` or beyond first
    moves it to ``path.1`` (``.1`` to ``.2``, ... the oldest beyond ``backups`` dropped),
    as ``logging.handlers.RotatingFileHandler`` does."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.max_bytes, self.backups = max_bytes, backups

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.stream is None:
                self.stream = self._open()
            # the standard rule: characters of the record, bytes of the file; never a device
            if self.max_bytes > 0 and os.path.isfile(self.baseFilename) and \
                    self.stream.tell() + len(f"{self.format(record)}\n") >= self.max_bytes:
                self.rollover()
            super().emit(record)
        except Exception:  # noqa: BLE001 - logging's own rule: a log must not break the process
            self.handleError(record)

    def rollover(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        base = self.baseFilename
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                if os.path.exists(f"{base}.{i}"):
                    os.replace(f"{base}.{i}", f"{base}.{i + 1}")
            if os.path.exists(base):
                os.replace(base, f"{base}.1")
        else:
            open(base, "w").close()  # noqa: SIM115 - no backups: start the file again
        self.stream = self._open()


def configure_process_logging(level: str = "INFO", logfile: Path | None = None) -> None:
    """Log to stderr, or to a rotating file when ``logfile`` is given."""
    handler: logging.Handler
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFile(logfile, max_bytes=5_000_000, backups=3)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    kafka = logging.getLogger("collector.kafka")
    if not any(isinstance(f, RateLimit) for f in kafka.filters):
        kafka.addFilter(RateLimit())

"""The collector's own record of what left the machine: the sent log.

Every event the broker acknowledged is written here as it was sent (its v1 wire form,
after the privacy guard: redacted title, reduced URL), with the private-mode periods,
so the person's "my data" page shows exactly what was sent without asking the server.

SQLite (one 0600 file in the collector's 0700 directory, like the spool). Bounded twice:
events older than ``keep_days`` local days (today only by default) are pruned, and at
most ``max_events`` are kept (the oldest go first).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector.perms import private_dir, private_file
from deskpulse.core.errors import ConfigError
from schemas.activity import ActivityEvent
from schemas.codec import encode_event, loads

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    start_ms INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sent_start ON sent (start_ms);
CREATE TABLE IF NOT EXISTS pauses (
    since_ms INTEGER PRIMARY KEY,
    until_ms INTEGER,
    ended_ms INTEGER
);
"""


def day_start_ms(now_ms: int, tz: str, days_back: int = 0) -> int:
    """Local midnight ``days_back`` days before the day of ``now_ms`` in ``tz``, epoch ms."""
    zone = ZoneInfo(tz)
    day = dt.datetime.fromtimestamp(now_ms / 1000, zone).date() - dt.timedelta(days=days_back)
    return int(dt.datetime.combine(day, dt.time(), zone).timestamp() * 1000)


class SentLog:
    def __init__(self, path: Path, *, tz: str = "UTC", keep_days: int = 1,
                 max_events: int = 50_000) -> None:
        if keep_days < 1 or max_events < 1:
            raise ConfigError("the sent log keeps at least one day and one event")
        private_dir(path.parent)
        private_file(path)
        for side in ("-wal", "-shm", "-journal"):
            private_file(path.with_name(path.name + side), create=False)
        self.path, self.tz, self.keep_days, self.max_events = path, tz, keep_days, max_events
        self._lock = threading.Lock()  # written by the run loop, read by the page's thread
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA cache_size=-256")  # 256 KiB: the collector budgets its RSS
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, events: Iterable[ActivityEvent]) -> None:
        """Events the broker acknowledged (one transaction)."""
        rows = [(e.event_id, e.start_ms, encode_event(e)) for e in events]
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany("INSERT OR IGNORE INTO sent (event_id, start_ms, payload) "
                                 "VALUES (?, ?, ?)", rows)
            excess = int(self._db.execute("SELECT count(*) FROM sent").fetchone()[0]) \
                - self.max_events
            if excess > 0:
                self._db.execute("DELETE FROM sent WHERE id IN (SELECT id FROM sent ORDER BY "
                                 "id LIMIT ?)", (excess,))

    def paused(self, since_ms: int, until_ms: int | None) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO pauses (since_ms, until_ms, ended_ms) "
                             "VALUES (?, ?, NULL)", (since_ms, until_ms))

    def resumed(self, at_ms: int) -> None:
        """Every open pause ends at ``at_ms`` (a timed one at its end, if that came first)."""
        with self._lock, self._db:
            self._db.execute("UPDATE pauses SET ended_ms = CASE WHEN until_ms IS NOT NULL AND "
                             "until_ms < ? THEN until_ms ELSE ? END WHERE ended_ms IS NULL",
                             (at_ms, at_ms))

    def prune(self, now_ms: int) -> int:
        """Forget what is older than ``keep_days`` local days; returns events removed."""
        cutoff = day_start_ms(now_ms, self.tz, self.keep_days - 1)
        with self._lock, self._db:
            gone = self._db.execute("DELETE FROM sent WHERE start_ms < ?", (cutoff,)).rowcount
            self._db.execute("DELETE FROM pauses WHERE ended_ms IS NOT NULL AND ended_ms < ?",
                             (cutoff,))
        return gone

    def events(self, since_ms: int) -> list[dict[str, Any]]:
        """Events sent that started at or after ``since_ms``, as sent, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM sent WHERE start_ms >= ? "
                                    "ORDER BY start_ms, id", (since_ms,)).fetchall()
        return [loads(p) for (p,) in rows]

    def pauses(self, since_ms: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT since_ms, until_ms, ended_ms FROM pauses WHERE ended_ms IS NULL "
                "OR ended_ms >= ? ORDER BY since_ms", (since_ms,)).fetchall()
        return [{"since_ms": s, "until_ms": u, "ended_ms": e} for s, u, e in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM sent").fetchone()[0])

"""The durable spool: every event is on disk before it is published, until Kafka acks it.

SQLite in WAL mode with ``synchronous=FULL``: an event written by :meth:`Spool.put`
survives ``kill -9`` and power loss; it is removed by :meth:`Spool.ack` only after
the broker acknowledged it. That removal is not synced to disk (``synchronous=NORMAL``
for the one transaction): after a power loss an acknowledged event may be back in the
spool and is sent again, which the pipeline counts once (a repeated event_id). The
spool is bounded: past ``max_events`` the oldest
events are dropped, and the drops are counted (``dropped``) and reported.

The spool holds window titles and URLs: the database and its ``-wal``/``-shm``
files are 0600 in a 0700 directory (SQLite gives the side files the database's
mode), also when an older spool was left readable by others.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from collector.perms import private_dir, private_file
from deskpulse.core.errors import ConfigError
from schemas.activity import ActivityEvent
from schemas.codec import encode_event, loads

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SpooledEvent:
    row_id: int
    event: ActivityEvent


class Spool:
    def __init__(self, path: Path, *, max_events: int = 500_000) -> None:
        if max_events < 1:
            raise ConfigError("spool max_events must be at least 1")
        private_dir(path.parent)
        private_file(path)  # created 0600 before SQLite opens it: -wal and -shm follow
        for side in ("-wal", "-shm", "-journal"):
            private_file(path.with_name(path.name + side), create=False)
        self.path = path
        self.max_events = max_events
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA cache_size=-512")  # 512 KiB: the spool is read sequentially
        self._db.executescript(_SCHEMA)
        self._n = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, key: str, by: int) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = value + excluded.value", (key, by))

    def get_meta(self, key: str) -> int:
        return self._meta(key)

    def set_meta(self, key: str, value: int) -> None:
        with self._db:
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                             "DO UPDATE SET value = excluded.value", (key, value))

    @property
    def dropped(self) -> int:
        """Events dropped because the spool was full (oldest first), ever."""
        return self._meta("dropped")

    @property
    def next_seq(self) -> int:
        return self._meta("next_seq")

    def put(self, events: Iterable[ActivityEvent], *, next_seq: int | None = None) -> int:
        """Store events durably (one transaction); returns how many were new."""
        rows = [(e.event_id, encode_event(e)) for e in events]
        if not rows and next_seq is None:
            return 0
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO events (event_id, payload) VALUES (?, ?)",
                                 rows)
            added = self._db.total_changes - before
            count = self._n + added
            if next_seq is not None:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('next_seq', ?) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                 (next_seq,))
            excess = count - self.max_events
            if excess > 0:
                self._db.execute("DELETE FROM events WHERE id IN "
                                 "(SELECT id FROM events ORDER BY id LIMIT ?)", (excess,))
                count -= excess
                self._bump("dropped", excess)
                logger.warning("spool full (%d events): dropped the %d oldest",
                               self.max_events, excess)
        self._n = count  # once committed
        return added

    def __len__(self) -> int:
        return self._n  # kept by put and ack: no count(*) of a large backlog per event

    def pending(self, limit: int, *, exclude: set[int] | frozenset[int] = frozenset()
                ) -> list[SpooledEvent]:
        """The oldest events not in ``exclude`` (row ids already in flight)."""
        out: list[SpooledEvent] = []
        if limit <= 0:
            return out
        cursor = self._db.execute("SELECT id, payload FROM events ORDER BY id")
        for row_id, payload in cursor:
            if row_id in exclude:
                continue
            event = _decode(payload)
            if event is None:
                logger.error("spool row %d is unreadable; dropping it", row_id)
                self.ack([row_id])
                continue
            out.append(SpooledEvent(row_id, event))
            if len(out) >= limit:
                break
        return out

    def ack(self, row_ids: Iterable[int]) -> None:
        """Forget events the broker acknowledged."""
        ids = [(i,) for i in row_ids]
        if ids:
            self._db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
            try:
                with self._db:
                    before = self._db.total_changes
                    self._db.executemany("DELETE FROM events WHERE id = ?", ids)
                    removed = self._db.total_changes - before
                self._n -= removed  # once committed
            finally:
                self._db.execute("PRAGMA synchronous=FULL")


def _decode(payload: bytes) -> ActivityEvent | None:
    try:
        return ActivityEvent(**loads(payload))
    except (ValueError, TypeError):
        return None

"""A batch of sink input: rows per storage table plus the offsets they came from. Pure."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from sinks.rows import DEADLETTER_TABLE, DECODERS, TABLES, PoisonMessage, poison_row


@dataclass
class Batch:
    """Rows waiting to be written, grouped by storage table, with their offset ranges."""

    rows: dict[str, list[tuple]] = field(default_factory=dict)
    #: (topic, partition) -> (first offset, last offset) of the messages in this batch
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    messages: int = 0
    poisoned: int = 0

    def add(self, topic: str, partition: int, offset: int, value: bytes, now_ms: int) -> None:
        if not self.messages:
            self.started = time.monotonic()
        self.messages += 1
        first, _ = self.ranges.get((topic, partition), (offset, offset))
        self.ranges[(topic, partition)] = (first, offset)
        try:
            decoded = DECODERS[topic](value)
        except PoisonMessage as exc:
            self.poisoned += 1
            self.rows.setdefault(DEADLETTER_TABLE, []).append(
                poison_row(value, str(exc), topic=topic, partition=partition, offset=offset,
                           now_ms=now_ms))
            return
        for table, rows in decoded.items():
            self.rows.setdefault(table, []).extend(rows)

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def age(self) -> float:
        return time.monotonic() - self.started if self.messages else 0.0

    def dedup_token(self, table: str) -> str:
        """Deterministic for the same offsets: a retried write of this batch is stored once."""
        parts = ",".join(f"{t}:{p}:{a}-{b}" for (t, p), (a, b) in sorted(self.ranges.items()))
        return hashlib.sha256(f"{table}|{parts}".encode()).hexdigest()

    def writes(self) -> list[tuple[str, tuple[str, ...], list[tuple], str]]:
        """``(table, columns, rows, dedup_token)`` for every table with rows."""
        out = []
        for table, rows in self.rows.items():
            if rows:
                out.append((table, TABLES[table], rows, self.dedup_token(table)))
        return out

    def commit_offsets(self) -> dict[tuple[str, int], int]:
        """Next offset to read per partition, as Kafka commits want it."""
        return {tp: last + 1 for tp, (_, last) in self.ranges.items()}

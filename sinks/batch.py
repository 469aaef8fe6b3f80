"""A batch of sink input: raw messages per topic plus the offsets they came from. Pure."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from schemas import topics
from sinks.rows import INPUT_TABLES, count_records, insert_body, poison_record, problem


@dataclass
class Batch:
    """Messages waiting to be written, grouped by topic, with their offset ranges."""

    #: topic -> message values, in order
    values: dict[str, list[bytes]] = field(default_factory=dict)
    #: topic -> (partition, offset) of each value, parallel to ``values``
    positions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: (topic, partition) -> (first offset, last offset) of the messages in this batch
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    messages: int = 0
    size: int = 0
    poisoned: int = 0

    def add(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        if not self.messages:
            self.started = time.monotonic()
        self.messages += 1
        self.size += len(value)
        first, _ = self.ranges.get((topic, partition), (offset, offset))
        self.ranges[(topic, partition)] = (first, offset)
        self.values.setdefault(topic, []).append(value)
        self.positions.setdefault(topic, []).append((partition, offset))

    def age(self) -> float:
        return time.monotonic() - self.started if self.messages else 0.0

    def records(self) -> int:
        return sum(count_records(topic, v) for topic, vs in self.values.items() for v in vs)

    def dedup_token(self, table: str) -> str:
        """Deterministic for the same offsets: a retried write of this batch is stored once."""
        parts = ",".join(f"{t}:{p}:{a}-{b}" for (t, p), (a, b) in sorted(self.ranges.items()))
        return hashlib.sha256(f"{table}|{parts}|{self.poisoned}".encode()).hexdigest()

    def writes(self) -> list[tuple[str, bytes, str]]:
        """``(input table, JSONEachRow body, dedup_token)`` per topic with messages."""
        return [(INPUT_TABLES[topic], insert_body(values), self.dedup_token(INPUT_TABLES[topic]))
                for topic, values in self.values.items() if values]

    def quarantine(self, now_ms: int) -> int:
        """Replace every message ClickHouse cannot take by a dead letter; returns how many."""
        letters: list[bytes] = []
        letter_positions: list[tuple[int, int]] = []
        for topic in self.values:
            keep_v, keep_p = [], []
            for value, (partition, offset) in zip(self.values[topic], self.positions[topic],
                                                  strict=True):
                reason = problem(topic, value)
                if reason is None:
                    keep_v.append(value)
                    keep_p.append((partition, offset))
                else:
                    letters.append(poison_record(value, reason, topic=topic,
                                                 partition=partition, offset=offset,
                                                 now_ms=now_ms))
                    letter_positions.append((partition, offset))
            self.values[topic], self.positions[topic] = keep_v, keep_p
        self.values.setdefault(topics.DEADLETTER, []).extend(letters)
        self.positions.setdefault(topics.DEADLETTER, []).extend(letter_positions)
        self.poisoned += len(letters)
        return len(letters)

    def commit_offsets(self) -> dict[tuple[str, int], int]:
        """Next offset to read per partition, as Kafka commits want it."""
        return {tp: last + 1 for tp, (_, last) in self.ranges.items()}

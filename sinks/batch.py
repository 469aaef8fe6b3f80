"""A batch of sink input: raw messages per topic plus the offsets they came from. Pure.

Each insert carries a deduplication token that identifies the data written, not the
Kafka positions it came from: a hash of the target table and of every message in the
body. A retried write of the same batch (same messages) has the same token and is
stored once; different data never shares a token, also when a broker that lost its
topics (tansu's memory storage, a re-created topic) hands out the same offsets again.
A dead letter the sink makes for a message ClickHouse refused is identified by that
message, where it was read and why it was refused, never by the time it was made, so
the batch quarantined again after a crash gets the same token too.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import orjson

from schemas import topics
from sinks.rows import INPUT_TABLES, count_records, insert_body, poison_record, problem


@dataclass
class Batch:
    """Messages waiting to be written, grouped by topic, with their offset ranges."""

    #: topic -> message values, in order
    values: dict[str, list[bytes]] = field(default_factory=dict)
    #: topic -> (partition, offset) of each value, parallel to ``values``
    positions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: topic -> what identifies each value in the dedup token, parallel to ``values``: the
    #: value itself, or for a dead letter made here the message it replaces
    identities: dict[str, list[bytes]] = field(default_factory=dict)
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
        self.identities.setdefault(topic, []).append(value)
        self.positions.setdefault(topic, []).append((partition, offset))

    def age(self) -> float:
        return time.monotonic() - self.started if self.messages else 0.0

    def records(self) -> int:
        return sum(count_records(topic, v) for topic, vs in self.values.items() for v in vs)

    def dedup_token(self, topic: str) -> str:
        """The token of the insert of ``topic``'s messages: the same data, the same token."""
        return content_token(INPUT_TABLES[topic], self.identities.get(topic, []))

    def writes(self) -> list[tuple[str, bytes, str]]:
        """``(input table, JSONEachRow body, dedup_token)`` per topic with messages."""
        return [(INPUT_TABLES[topic], insert_body(values), self.dedup_token(topic))
                for topic, values in self.values.items() if values]

    def quarantine(self, now_ms: int) -> int:
        """Replace every message ClickHouse cannot take by a dead letter; returns how many."""
        letters: list[bytes] = []
        letter_ids: list[bytes] = []
        letter_positions: list[tuple[int, int]] = []
        for topic in self.values:
            keep_v, keep_i, keep_p = [], [], []
            for value, identity, (partition, offset) in zip(
                    self.values[topic], self.identities[topic], self.positions[topic],
                    strict=True):
                reason = problem(topic, value)
                if reason is None:
                    keep_v.append(value)
                    keep_i.append(identity)
                    keep_p.append((partition, offset))
                else:
                    letters.append(poison_record(value, reason, topic=topic,
                                                 partition=partition, offset=offset,
                                                 now_ms=now_ms))
                    letter_ids.append(_letter_identity(topic, partition, offset, reason,
                                                       identity))
                    letter_positions.append((partition, offset))
            self.values[topic], self.identities[topic], self.positions[topic] = \
                keep_v, keep_i, keep_p
        self.values.setdefault(topics.DEADLETTER, []).extend(letters)
        self.identities.setdefault(topics.DEADLETTER, []).extend(letter_ids)
        self.positions.setdefault(topics.DEADLETTER, []).extend(letter_positions)
        self.poisoned += len(letters)
        return len(letters)

    def commit_offsets(self) -> dict[tuple[str, int], int]:
        """Next offset to read per partition, as Kafka commits want it."""
        return {tp: last + 1 for tp, (_, last) in self.ranges.items()}


def content_token(table: str, identities: list[bytes]) -> str:
    """SHA-256 over the table and each item, length-prefixed (no two lists hash alike)."""
    digest = hashlib.sha256(b"deskpulse-sink-token-v2\0")
    digest.update(len(table).to_bytes(4, "big") + table.encode())
    for item in identities:
        digest.update(len(item).to_bytes(8, "big"))
        digest.update(item)
    return digest.hexdigest()


def _letter_identity(topic: str, partition: int, offset: int, reason: str,
                     source: bytes) -> bytes:
    """A dead letter made by the sink, without its time stamp: the refused message, its
    position and the reason (the position is part of the letter's content)."""
    head = orjson.dumps({"sink_letter": [topic, partition, offset, reason]})
    return head + b"\0" + source

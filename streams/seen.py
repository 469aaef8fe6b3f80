"""The dedup index of the stream workers: in memory per partition, logged to a topic.

Each activity partition ``p`` has its own index, persisted in partition ``p`` of
``deskpulse.streams.seen`` as one message per processed batch (a JSON array of
``[key, expires_ms, offset]``). A worker that is assigned partition ``p`` reads
that log to its end before it processes any event of ``p``; a revoked partition
is forgotten. The worker writes the log before it commits the source offsets:
an event whose seen entry was lost in a crash is read again from the source
and recorded again at the same position.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from deskpulse.core.errors import BrokerUnavailable
from deskpulse.core.settings import KafkaSettings
from schemas.topics import STREAMS_SEEN

logger = logging.getLogger(__name__)


class PartitionedSeenIndex:
    """:class:`~streams.core.SeenIndex` with a log per partition (pure: no I/O here)."""

    def __init__(self) -> None:
        self._index: dict[int, dict[str, tuple[int, int]]] = {}
        self._pending: dict[int, list[list]] = {}

    def loaded(self, partition: int) -> bool:
        return partition in self._index

    def load(self, partition: int, entries: Iterable[list]) -> None:
        index = self._index.setdefault(partition, {})
        for key, expires_ms, offset in entries:
            index.setdefault(key, (int(expires_ms), int(offset)))

    def forget(self, partition: int) -> None:
        self._index.pop(partition, None)
        self._pending.pop(partition, None)

    def add_if_absent(self, key: str, partition: int, offset: int, expires_ms: int) -> bool:
        index = self._index.setdefault(partition, {})
        known = index.get(key)
        if known is not None:
            return known[1] == offset
        index[key] = (expires_ms, offset)
        self._pending.setdefault(partition, []).append([key, expires_ms, offset])
        return True

    def drain(self) -> Iterator[tuple[int, list[list]]]:
        """Log entries (``[key, expires_ms, offset]``) added since the last drain, per partition."""
        pending, self._pending = self._pending, {}
        yield from pending.items()

    def expire(self, now_ms: int) -> int:
        """Forget entries past the late-arrival horizon; returns how many."""
        dropped = 0
        for index in self._index.values():
            old = [k for k, (expires, _) in index.items() if expires < now_ms]
            for k in old:
                del index[k]
            dropped += len(old)
        return dropped

    def __len__(self) -> int:
        return sum(len(i) for i in self._index.values())


def read_seen_log(kafka: KafkaSettings, partition: int, timeout: float = 60.0) -> list[list]:
    """Every entry logged for ``partition``, read to the end of the log."""
    consumer = Consumer(kafka.librdkafka(**{"group.id": f"deskpulse-seen-{uuid.uuid4().hex}",
                                            "enable.auto.commit": False}))
    try:
        tp = TopicPartition(STREAMS_SEEN, partition)
        _, high = consumer.get_watermark_offsets(tp, timeout=10)
        entries: list[list] = []
        if high <= 0:
            return entries
        consumer.assign([TopicPartition(STREAMS_SEEN, partition, OFFSET_BEGINNING)])
        import time
        deadline = time.monotonic() + timeout
        position = -1
        while position + 1 < high:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"reading the dedup log of partition {partition} "
                                        f"timed out at offset {position} of {high}")
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                position = msg.offset()
                try:
                    entries.extend(orjson.loads(msg.value()))
                except (orjson.JSONDecodeError, TypeError):
                    logger.error("unreadable dedup log message at %s:%d", STREAMS_SEEN, position)
        return entries
    finally:
        consumer.close()

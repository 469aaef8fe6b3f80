"""The dedup log's Kafka side: read one partition's log of ``deskpulse.streams.seen``.

The index itself (pure) is :mod:`streams.seen`; the ingest loop writes the log.
"""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from deskpulse.core.errors import BrokerUnavailable
from deskpulse.core.settings import KafkaSettings
from schemas.topics import STREAMS_SEEN

logger = logging.getLogger(__name__)


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

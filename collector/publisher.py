"""Kafka publisher of the collector: acks=all, idempotent, compressed, key ``tenant/user``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from deskpulse.errors import BrokerUnavailable
from deskpulse.settings import KafkaSettings
from schemas import topics
from schemas.activity import ActivityEvent
from schemas.codec import encode_event

logger = logging.getLogger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "compression.type": "lz4",
    "linger.ms": 50,
    "message.timeout.ms": 120_000,
}


class Publisher:
    """Publishes events; ``on_ack(event_id)`` is called once the broker has acknowledged one."""

    def __init__(self, kafka: KafkaSettings, *, topic: str = topics.ACTIVITY,
                 overrides: dict[str, Any] | None = None) -> None:
        conf = {**PRODUCER_DEFAULTS, **kafka.librdkafka(), **(overrides or {})}
        self._producer = Producer(conf)
        self._topic = topic
        self.acked = 0
        self.failed = 0

    def publish(self, events: Iterable[ActivityEvent],
                on_ack: Callable[[str], None] | None = None) -> int:
        """Queue ``events`` for sending; returns how many were queued."""
        count = 0

        def delivered(err: KafkaError | None, msg: Any, event_id: str) -> None:
            if err is None:
                self.acked += 1
                if on_ack:
                    on_ack(event_id)
            else:
                self.failed += 1
                logger.warning("event %s not delivered: %s", event_id, err)

        for event in events:
            while True:
                try:
                    self._producer.produce(
                        self._topic, key=event.key, value=encode_event(event),
                        on_delivery=lambda err, msg, eid=event.event_id: delivered(err, msg, eid),
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)  # local queue full: let deliveries drain
                except KafkaException as exc:
                    raise BrokerUnavailable(f"cannot queue event for {self._topic}: {exc}") \
                        from exc
            count += 1
        self._producer.poll(0)
        return count

    def flush(self, timeout: float = 60.0) -> int:
        """Wait for outstanding deliveries; returns how many are still pending."""
        return self._producer.flush(timeout)

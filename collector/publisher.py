"""Kafka publisher of the collector: acks=all, idempotent, compressed, key ``tenant/user``.

With a device credential (``[kafka] device_credential`` / ``DESKPULSE_DEVICE_CREDENTIAL``,
from ``deskpulse device enrol``) every event carries its signature as its last member
``auth``: an HMAC-SHA256 of the message key and the event with this computer's key
(:mod:`schemas.auth`).
An event the credential does not cover (another tenant, host or person) is refused
here with a :class:`~schemas.auth.CredentialError`: it stays in the spool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from collector.kafkalib import cimpl
from deskpulse.core.errors import BrokerUnavailable
from deskpulse.core.settings import RELIABLE_PRODUCER, KafkaSettings
from schemas import topics
from schemas.activity import ActivityEvent
from schemas.auth import Signer, attach
from schemas.codec import encode_event

_kafka = cimpl()  # the C producer without the package's asyncio client (RSS)
KafkaError, KafkaException, Producer = _kafka.KafkaError, _kafka.KafkaException, _kafka.Producer

logger = logging.getLogger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    **RELIABLE_PRODUCER,  # [kafka.extra] may tune everything below, as the overrides may
    "compression.type": "lz4",
    "linger.ms": 50,
    "message.timeout.ms": 120_000,
    "reconnect.backoff.max.ms": 10_000,  # an outage of hours must not flood the log
}


class Publisher:
    """Sends events; each send reports back once, delivered or not."""

    def __init__(self, kafka: KafkaSettings, *, topic: str = topics.ACTIVITY,
                 overrides: dict[str, Any] | None = None, signer: Signer | None = None) -> None:
        if signer is None and kafka.device_credential is not None:
            from deskpulse.core.devices import load_signer
            signer = load_signer(kafka.device_credential)
        self._signer = signer
        conf = {**PRODUCER_DEFAULTS, **kafka.librdkafka(), **(overrides or {}),
                "logger": logging.getLogger("collector.kafka")}
        self._producer = Producer(conf)
        self._topic = topic
        self.acked = 0
        self.failed = 0

    def send(self, event: ActivityEvent, on_result: Callable[[bool], None] | None = None) -> None:
        """Queue one event; ``on_result(delivered)`` runs from :meth:`poll`/:meth:`flush`."""

        def delivered(err: KafkaError | None, msg: Any) -> None:
            if err is None:
                self.acked += 1
            else:
                self.failed += 1
                logger.warning("event %s not delivered: %s", event.event_id, err)
            if on_result is not None:
                on_result(err is None)

        key, value = event.key, encode_event(event)
        if self._signer is not None:
            value = attach(value, self._signer.sign(event.tenant, event.host, event.user, key,
                                                    value))
        while True:
            try:
                self._producer.produce(self._topic, key=key, value=value,
                                       on_delivery=delivered)
                return
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain
            except KafkaException as exc:
                raise BrokerUnavailable(f"cannot queue event for {self._topic}: {exc}") from exc

    def publish(self, events: Iterable[ActivityEvent]) -> int:
        """Queue ``events``; returns how many were queued."""
        count = 0
        for event in events:
            self.send(event)
            count += 1
        self._producer.poll(0)
        return count

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float = 60.0) -> int:
        """Wait for outstanding deliveries; returns how many are still pending."""
        return self._producer.flush(timeout)

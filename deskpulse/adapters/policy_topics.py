"""Policy topics: publishing records, and following them into a :class:`PolicySet`.

The compacted topics ``deskpulse.policy.dnt``, ``deskpulse.policy.schedule``,
``deskpulse.policy.category`` and ``deskpulse.policy.device`` are the source of truth.
Every stream worker runs a :class:`PolicyFollower`: a consumer outside any group that
reads the topics from the beginning and keeps reading, so every worker knows every
policy (a global table), across restarts and rebalances. A worker processes no event
before its follower has caught up with the topics as they were when it started.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from deskpulse.core.errors import BrokerUnavailable, PolicyError
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from schemas.policy import PolicySet

logger = logging.getLogger(__name__)

#: a partition without a leader for a moment (retried)
_ELECTING = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
             KafkaError.UNKNOWN_TOPIC_OR_PART)

POLICY_TOPICS = (topics.POLICY_DNT, topics.POLICY_SCHEDULE, topics.POLICY_CATEGORY,
                 topics.POLICY_DEVICE)


def publish_policy(kafka: KafkaSettings, topic: str, key: str, record: dict | None,
                   timeout: float = 30.0) -> None:
    """Write one policy record (``None``: a tombstone) and wait for the broker's ack."""
    publish_records(kafka, [(topic, key, record)], timeout)


def publish_records(kafka: KafkaSettings, records: Sequence[tuple[str, str, dict | None]],
                    timeout: float = 30.0) -> None:
    """Write ``(topic, key, record)`` policy records through one producer, in order, and
    wait for every ack (one producer per record is slow for hundreds)."""
    producer = Producer(kafka.reliable_producer())
    errors: list[Any] = []
    for topic, key, record in records:
        producer.produce(topic, key=key.encode(),
                         value=None if record is None else orjson.dumps(record),
                         on_delivery=lambda err, msg: errors.append(err) if err else None)
    if producer.flush(timeout) or errors:
        where = ", ".join(sorted({topic for topic, _, _ in records}))
        raise BrokerUnavailable(f"the policy was not stored in {where}: "
                                f"{errors[0] if errors else 'no answer from the broker'}",
                                hint="is the broker reachable? " + (
                                    "nothing was changed" if len(records) == 1 else
                                    "some records may be stored; writing them again is safe"))


class PolicyFollower:
    """Reads the policy topics into a :class:`PolicySet` and keeps it up to date."""

    def __init__(self, kafka: KafkaSettings,
                 on_record: Callable[[str, str, dict | None], None] | None = None) -> None:
        self.policies = PolicySet()
        self._on_record = on_record
        self._kafka = kafka
        self._client_errors: list[KafkaError] = []  # librdkafka's (failed logins, TLS)
        self._consumer = Consumer(kafka.librdkafka(**{
            "group.id": f"deskpulse-policy-{uuid.uuid4().hex}",  # never joins/commits
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "error_cb": self._client_errors.append,
        }))
        self.loaded = threading.Event()
        self.records = 0  # policy records applied so far (tests and /health follow it)
        self._targets: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="policy-follower", daemon=True)

    def start(self) -> None:
        partitions = []
        for topic in POLICY_TOPICS:
            meta = self._topic(topic)
            for p in meta.partitions:
                partitions.append(TopicPartition(topic, p, OFFSET_BEGINNING))
                high = self._high_watermark(TopicPartition(topic, p))
                if high > 0:
                    self._targets[(topic, p)] = high
        self._consumer.assign(partitions)
        if not self._targets:
            self.loaded.set()
        self._thread.start()

    def _topic(self, topic: str, timeout: float = 15.0):
        """The topic's metadata, once it has leaders (retried while they are being elected:
        a topic just created, a broker failing over)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                meta = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
            except KafkaException as exc:
                raise BrokerUnavailable(f"cannot read the policy topics from "
                                        f"{self._kafka.bootstrap}: {self._reason(exc)}") from exc
            err = None if meta is None else meta.error
            if err is None and meta is not None and meta.partitions and all(
                    p.error is None and p.leader >= 0 for p in meta.partitions.values()):
                return meta
            retry = meta is not None and (err is None or err.retriable()
                                          or err.code() in _ELECTING)
            if not retry or time.monotonic() >= deadline:
                raise BrokerUnavailable(f"policy topic {topic} is not available"
                                        + (f": {err.str()}" if err is not None else ""))
            time.sleep(0.2)

    def _reason(self, exc: KafkaException) -> str:
        """What went wrong: a refused login or TLS handshake rather than 'transport failure'."""
        self._consumer.poll(0)  # serves error_cb
        refused = [e for e in self._client_errors
                   if e.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL)]
        reason = refused[0].str() if refused else exc.args[0].str()
        return reason.split("/bootstrap: ", 1)[-1]

    def _high_watermark(self, tp: TopicPartition, timeout: float = 30.0) -> int:
        """The partition's end offset; retried while its leader is being elected (a topic
        just created, a broker failing over: a real Kafka says NOT_LEADER_FOR_PARTITION)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._consumer.get_watermark_offsets(tp, timeout=10)[1]
            except KafkaException as exc:
                err = exc.args[0]
                if time.monotonic() >= deadline or not (
                        err.retriable() or err.code() in _ELECTING):
                    raise BrokerUnavailable(f"cannot read the end of {tp.topic}: "
                                            f"{err.str()}") from exc
                logger.info("policy topic %s [%d]: %s; retrying", tp.topic, tp.partition,
                            err.str())
                time.sleep(0.2)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for msg in self._consumer.consume(500, 0.2):
                    if msg.error():
                        logger.warning("policy topic error: %s", msg.error())
                        continue
                    self.apply(msg.topic(), msg.key().decode(), msg.value())
                    target = self._targets.get((msg.topic(), msg.partition()))
                    if target is not None and msg.offset() + 1 >= target:
                        del self._targets[(msg.topic(), msg.partition())]
                        if not self._targets:
                            logger.info("policies loaded: %d do-not-track, %d schedules, "
                                        "%d category rules", len(self.policies.dnt),
                                        len(self.policies.schedules),
                                        len(self.policies.categories.rules))
                            self.loaded.set()
        except KafkaException as exc:  # pragma: no cover - reported on /health
            logger.error("policy follower stopped: %s", exc)
        finally:
            self._consumer.close()

    def apply(self, topic: str, key: str, value: bytes | None) -> None:
        try:
            record = None if value is None else orjson.loads(value)
            self.policies.apply(topic, key, record)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, PolicyError) as exc:
            logger.error("ignoring unreadable policy record %s in %s: %r", key, topic, exc)
            return
        self.records += 1
        if self._on_record is not None:
            self._on_record(topic, key, record)

    def wait_loaded(self, timeout: float) -> None:
        if not self.loaded.wait(timeout):
            raise BrokerUnavailable(f"policies not loaded after {timeout:.0f}s")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # start() may have failed before the thread ran
            self._thread.join(5)


def read_policies(kafka: KafkaSettings, timeout: float = 20.0) -> PolicySet:
    """The current policies, read once to the end of the topics (for the CLI)."""
    follower = PolicyFollower(kafka)
    follower.start()
    try:
        follower.wait_loaded(timeout)
        return follower.policies
    finally:
        follower.stop()

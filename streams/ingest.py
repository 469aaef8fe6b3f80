"""The worker's hot path: read the activity topic in batches, process, write, commit.

A confluent-kafka consumer in the worker's consumer group reads up to
``batch_size`` messages at a time; :func:`streams.batch.process_batch` turns
them into output messages; a confluent-kafka producer writes those (outputs,
then nothing is committed until every one is acknowledged by the broker); only
then are the source offsets committed. A crash anywhere before the commit means
the batch is read again, and the dedup index (which remembers the position that
first recorded an event) lets it be processed again rather than dropped.

Why not a Faust agent: measured on this machine, Faust's per-message consume
path (conductor, channel, event, acks) tops out at ~9.8k events/s with the
processing switched off, whereas this loop runs the same core at the rate the
core itself allows. Faust still hosts the worker (lifecycle, signals, the web
endpoints) in :mod:`streams.app`.

Each message is handed to the core with its key (device authentication,
:mod:`streams.auth`, reads the event's ``auth`` member); events a tenant in ``warn``
mode accepted unverified are summed up in the log at most once a minute.

Garbage collection: the loop allocates several containers per event (records,
minute lists, dedup entries) that all die with their batch, so at the default
threshold (700) a young collection ran every ~100 events and each full one walked
the whole heap (Faust's objects, the dedup index). When the loop starts, the heap
built so far is frozen (:func:`gc.freeze`: never scanned again) and collections run
less often (:data:`GC_THRESHOLDS`): ~15 % less CPU per event in paired runs.

Partition ownership follows the consumer group: on assignment the partition's
dedup log is read to its end before any of its events is processed; on
revocation the partition's index is forgotten (everything of it was already
written and committed, batches being synchronous).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from deskpulse.adapters.policy_topics import PolicyFollower
from deskpulse.core.errors import BrokerUnavailable
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from streams.auth import DeviceAuth
from streams.batch import process_batch
from streams.metrics import StreamMetrics
from streams.seen import PartitionedSeenIndex
from streams.seen_io import read_seen_log

logger = logging.getLogger(__name__)

EXPIRE_EVERY_S = 3600.0
WARN_SUMMARY_EVERY_S = 60.0
#: young collections every 20k container allocations instead of 700 (cycles are rare here)
GC_THRESHOLDS = (20_000, 20, 20)


@dataclass(frozen=True)
class IngestSettings:
    group_id: str = "deskpulse-streams"
    batch_size: int = 5000
    poll_timeout_s: float = 0.1
    session_timeout_ms: int = 6000
    write_timeout_s: float = 30.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0


class ActivityIngest:
    """Consume → process → produce → commit, on one thread (start/stop from any thread)."""

    def __init__(self, kafka: KafkaSettings, follower: PolicyFollower, metrics: StreamMetrics,
                 settings: IngestSettings | None = None,
                 clock: Callable[[], float] = time.time,
                 auth: DeviceAuth | None = None) -> None:
        self.settings = settings or IngestSettings()
        self.auth = auth
        self._warned: Counter[tuple[str, str]] = Counter()
        self._warned_logged = time.monotonic() - WARN_SUMMARY_EVERY_S  # the first at once
        self._kafka = kafka
        self._follower = follower
        self._metrics = metrics
        self._clock = clock
        self.seen = PartitionedSeenIndex()
        self.assigned: frozenset[int] = frozenset()
        self.joined = False  # a first assignment (maybe empty) came from the group
        self.dedup_keys = 0
        self.subscribed = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="activity-ingest", daemon=True)
        self._delivery_errors: list[KafkaError] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported to the host, which stops the worker
            logger.exception("the activity loop stopped")
            self.error = exc

    def _run(self) -> None:
        s = self.settings
        self._follower.start()
        while not self._follower.loaded.wait(0.2):  # no event before the policies are known
            if self._stop.is_set():
                return
        consumer = Consumer(self._kafka.group_consumer(s.group_id, s.session_timeout_ms))
        producer = Producer(self._kafka.reliable_producer(**{
            "compression.type": "lz4", "linger.ms": 5, "batch.num.messages": 10_000,
        }))
        consumer.subscribe([topics.ACTIVITY], on_assign=self._on_assign,
                           on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self.subscribed.set()
        gc.freeze()  # what exists now (modules, Faust, policies) lives as long as the worker
        gc.set_threshold(*GC_THRESHOLDS)
        last_expiry = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = consumer.consume(s.batch_size, s.poll_timeout_s)
                if messages:
                    self._handle(consumer, producer, messages)
                if time.monotonic() - last_expiry > EXPIRE_EVERY_S:
                    last_expiry = time.monotonic()
                    dropped = self.seen.expire(int(self._clock() * 1000))
                    if dropped:
                        logger.info("dedup index: %d keys past the horizon forgotten", dropped)
        finally:
            producer.flush(s.write_timeout_s)
            consumer.close()

    # -- partition ownership -----------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            if not self.seen.loaded(tp.partition):
                entries = read_seen_log(self._kafka, tp.partition)
                self.seen.load(tp.partition, entries)
                logger.info("dedup index of partition %d loaded: %d keys", tp.partition,
                            len(entries))
        self.assigned = self.assigned | {tp.partition for tp in partitions}
        self.joined = True
        logger.info("assigned activity partitions %s", sorted(self.assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.seen.forget(tp.partition)  # reloaded from its log if it comes back
        self.assigned = self.assigned - {tp.partition for tp in partitions}
        logger.info("revoked activity partitions %s", sorted(tp.partition for tp in partitions))

    # -- one batch -----------------------------------------------------------------------

    def _handle(self, consumer: Consumer, producer: Producer, messages: list[Message]) -> None:
        batch = []
        for msg in messages:
            if msg.error():
                logger.warning("consumer error: %s", msg.error())
                continue
            batch.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
        if not batch:
            return
        result = process_batch(batch, now_ms=int(self._clock() * 1000), seen=self.seen,
                               policies=self._follower.policies, auth=self.auth)
        if not self._write(producer, result.messages):
            return  # stopping: nothing committed, the batch will be read again
        offsets = [TopicPartition(topics.ACTIVITY, p, o) for p, o in result.next_offsets.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Outputs are written; the batch is read again and collapses downstream.
            logger.warning("offset commit failed (outputs already written): %s", exc)
        self._metrics.add(result.tally)
        self.dedup_keys = len(self.seen)
        if result.tally.auth_warned:
            self._warned.update(result.tally.auth_warned)
        if self._warned and time.monotonic() - self._warned_logged >= WARN_SUMMARY_EVERY_S:
            self._log_warned()

    def _log_warned(self) -> None:
        summary = ", ".join(f"tenant {tenant}: {n} {reason}"
                            for (tenant, reason), n in self._warned.most_common(10))
        logger.warning("device authentication in warn mode: %d events accepted that enforce "
                       "would refuse (%s)", sum(self._warned.values()), summary)
        self._warned.clear()
        self._warned_logged = time.monotonic()

    def _write(self, producer: Producer, messages: list[tuple[str, int, bytes]]) -> bool:
        """Send and wait for every ack, retrying the whole set with back-off; False if stopped."""
        delay = self.settings.backoff_initial_s
        while True:
            self._delivery_errors.clear()
            for topic, partition, value in messages:
                self._produce(producer, topic, partition, value)
            left = producer.flush(self.settings.write_timeout_s)
            if not left and not self._delivery_errors:
                return True
            problem = self._delivery_errors[0] if self._delivery_errors else \
                f"{left} messages unacknowledged after {self.settings.write_timeout_s:.0f}s"
            logger.warning("writing outputs failed, retrying in %.1fs: %s", delay, problem)
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, self.settings.backoff_max_s)

    def _produce(self, producer: Producer, topic: str, partition: int, value: bytes) -> None:
        while True:
            try:
                producer.produce(topic, value, partition=partition, on_delivery=self._delivered)
                return
            except BufferError:
                producer.poll(0.05)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(err)


def require_alive(ingest: ActivityIngest) -> None:
    """Raise the loop's own error if it stopped (the host turns it into a worker crash)."""
    if ingest.error is not None:
        raise BrokerUnavailable(f"the activity loop stopped: {ingest.error}")

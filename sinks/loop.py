"""The sink's Kafka loop: batch, write, then commit.

Offsets are committed only after every record of the batch was written. The
messages go to ClickHouse as they are (JSONEachRow into the ``*_in`` tables,
whose views write the storage tables). When ClickHouse refuses a write, the
batch is first checked message by message: messages it cannot take are replaced
by dead letters and the write is retried at once. Otherwise the store is
unavailable: the batch is kept, consumption is paused and the write is retried
with a bounded exponential back-off; nothing unwritten is ever committed.

While writes fail, ``/health`` reports the sink not ready and not writing, with the
last error and its age, and the lag counts the messages held unwritten as well as
those not read yet.

Between batches (every ``refresh_every_s`` at most) the loop refreshes the hour and day
aggregates (:mod:`sinks.rollup`); each batch write holds :data:`sinks.rollup.WRITES`, so
a refresh's watermark never falls inside a write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition

from deskpulse.core import faults
from deskpulse.core.errors import StoreUnavailable
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from sinks import rollup
from sinks.batch import Batch
from sinks.writer import BodyWriter

logger = logging.getLogger(__name__)

SINK_TOPICS = (topics.SPANS, topics.ROLLUPS, topics.DEADLETTER)


@dataclass(frozen=True)
class SinkSettings:
    group_id: str = "deskpulse-sink"
    max_bytes: int = 16 * 1024 * 1024
    max_age_s: float = 0.5
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    session_timeout_ms: int = 6000
    lag_every_s: float = 2.0
    #: seconds between two rollup refreshes (sinks/rollup.py) after a written batch; each
    #: recomputes the days written since (about 1-2 s per day at 1,600 people), so not
    #: too often while catching up (the views are exact meanwhile)
    refresh_every_s: float = 30.0
    #: margin for other writers' inserts in flight (several sinks on one store): see
    #: :func:`sinks.rollup.refresh`; 0 with one sink (the embedded stack)
    refresh_lag_s: float = 0.0


@dataclass
class SinkState:
    """What the loop reports on ``/health`` and ``/metrics``."""

    assigned: bool = False
    messages: int = 0
    records_written: int = 0
    bytes_written: int = 0
    batches: int = 0
    poisoned: int = 0
    write_failures: int = 0
    #: messages not yet written, summed over the assigned partitions: those not read yet
    #: plus those read into a batch that is not written yet (updated every few seconds)
    lag: int = 0
    #: messages read and held in a batch whose write is failing (0 while writes succeed)
    unwritten: int = 0
    failing_since: float | None = None
    last_error: str = ""
    #: monotonic time of the last failed write (None: no write has failed)
    last_error_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, object]:
        with self.lock:
            now = time.monotonic()
            return {
                "ready": self.assigned and self.failing_since is None,
                "assigned": self.assigned,
                "writing": self.failing_since is None,
                "messages": self.messages,
                "records_written": self.records_written,
                "bytes_written": self.bytes_written,
                "batches": self.batches,
                "poisoned": self.poisoned,
                "write_failures": self.write_failures,
                "lag": self.lag,
                "unwritten": self.unwritten,
                "failing_for_s": (round(now - self.failing_since, 1)
                                  if self.failing_since is not None else 0.0),
                "last_error": self.last_error,
                "last_error_age_s": (round(now - self.last_error_at, 1)
                                     if self.last_error_at is not None else None),
            }


class SinkLoop:
    def __init__(self, kafka: KafkaSettings, writer: BodyWriter,
                 settings: SinkSettings | None = None, state: SinkState | None = None,
                 refresher: Callable[[], object] | None = None) -> None:
        self.settings = settings or SinkSettings()
        self._refresher = refresher
        self._refreshed = 0.0
        self._pending_refresh = True  # hours may be dirty from before this process
        self.state = state or SinkState()
        self._writer = writer
        self._consumer = Consumer(kafka.group_consumer(self.settings.group_id,
                                                       self.settings.session_timeout_ms))
        self._batch = Batch()
        self._lag_checked = 0.0

    def run(self, stop: threading.Event) -> None:
        self._consumer.subscribe(list(SINK_TOPICS), on_assign=self._on_assign,
                                 on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                self._poll_once(stop)
            self._flush(stop)
        finally:
            self._consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # librdkafka keeps a partition's pause flag across a revoke and a new assignment: a
        # partition paused during a failing write and handed back would never be read
        # again (the fault matrix caught a sink stuck that way, reporting no lag)
        consumer.resume(partitions)
        with self.state.lock:
            self.state.assigned = True
        logger.info("sink assigned %d partitions", len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Write what we hold for these partitions before another member takes them.
        self._flush(threading.Event())

    def _poll_once(self, stop: threading.Event) -> None:
        messages = self._consumer.consume(num_messages=1000, timeout=0.1)
        for msg in messages:
            if msg.error():
                logger.warning("consumer error: %s", msg.error())
                continue
            self._batch.add(msg.topic(), msg.partition(), msg.offset(), msg.value() or b"")
        if (self._batch.size >= self.settings.max_bytes
                or self._batch.age() >= self.settings.max_age_s):
            self._flush(stop)
        if time.monotonic() - self._lag_checked >= self.settings.lag_every_s:
            self._update_lag()
        if not self._batch.messages:
            self._refresh()

    def _update_lag(self) -> None:
        """Messages not yet written: high watermark minus the first unwritten offset.

        That is the first offset of the batch being written where the batch holds messages
        of the partition (read but not written yet is still lag: a sink whose writes fail
        on a full disk must not report 0), else the read position. Cheap: the high
        watermarks are those of the last fetches.
        """
        self._lag_checked = time.monotonic()
        lag = 0
        try:
            for tp in self._consumer.position(self._consumer.assignment()):
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
                held = self._batch.ranges.get((tp.topic, tp.partition))
                done = held[0] if held else tp.offset
                if held:
                    high = max(high, held[1] + 1)
                if high >= 0 and done >= 0:
                    lag += max(0, high - done)
        except KafkaException as exc:
            logger.debug("lag not available: %s", exc)
            return
        with self.state.lock:
            self.state.lag = lag

    def _flush(self, stop: threading.Event) -> None:
        batch = self._batch
        if not batch.messages:
            return
        delay = self.settings.backoff_initial_s
        paused = False
        while True:
            try:
                if faults.failing("sink.write"):
                    raise StoreUnavailable("ClickHouse unreachable (fault injection)")
                with rollup.WRITES:  # a refresh's watermark never falls inside a write
                    for table, body, token in batch.writes():
                        self._writer.write(table, body, token)
                break
            except StoreUnavailable as exc:
                with self.state.lock:
                    self.state.write_failures += 1
                    self.state.last_error = str(exc)
                    self.state.last_error_at = time.monotonic()
                if batch.quarantine(int(time.time() * 1000)):
                    logger.warning("dead-lettered %d messages ClickHouse could not take: %s",
                                   batch.poisoned, exc)
                    continue  # retry at once without them
                with self.state.lock:
                    if self.state.failing_since is None:
                        self.state.failing_since = time.monotonic()
                    self.state.unwritten = batch.messages
                logger.warning("write failed, retrying in %.1fs: %s", delay, exc)
                if not paused:
                    self._consumer.pause(self._consumer.assignment())
                    paused = True
                if stop.wait(delay):
                    logger.error("stopping with an unwritten batch of %d messages; "
                                 "it was not committed and will be read again",
                                 batch.messages)
                    return
                self._keep_membership(batch)
                self._update_lag()
                delay = min(delay * 2, self.settings.backoff_max_s)
        faults.point("sink.after_write")
        self._commit(batch)
        if paused:
            self._consumer.resume(self._consumer.assignment())
        with self.state.lock:
            self.state.failing_since = None
            self.state.unwritten = 0
            self.state.messages += batch.messages
            self.state.records_written += batch.records()
            self.state.bytes_written += batch.size
            self.state.batches += 1
            self.state.poisoned += batch.poisoned
        self._batch = Batch()
        self._pending_refresh = True
        self._refresh()

    def _refresh(self) -> None:
        """Bring the hour and day aggregates up to date now and then; a failure only leaves
        hours dirty (the views read them exactly from the minutes meanwhile)."""
        if self._refresher is None or not self._pending_refresh or \
                time.monotonic() - self._refreshed < self.settings.refresh_every_s:
            return
        self._refreshed = time.monotonic()
        self._pending_refresh = False
        try:
            self._refresher()
        except Exception as exc:  # noqa: BLE001 - the next refresh redoes the day
            self._pending_refresh = True
            logger.warning("rollup refresh failed (retried later): %s", exc)

    def _keep_membership(self, batch: Batch) -> None:
        """Serve the group protocol while paused, losing no message.

        A consume call is needed now and then (rebalance callbacks, the poll interval).
        Whatever it returns joins the batch being retried: a rebalance inside it hands out
        partitions that are not paused yet, and a message dropped here would be committed
        unwritten later (the fault matrix caught exactly that). Then everything is paused
        again.
        """
        for msg in self._consumer.consume(num_messages=1000, timeout=0):
            if not msg.error():
                batch.add(msg.topic(), msg.partition(), msg.offset(), msg.value() or b"")
        self._consumer.pause(self._consumer.assignment())

    def _commit(self, batch: Batch) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in batch.commit_offsets().items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The rows are written; if the commit is lost they are read again and
            # collapse in the store (same keys), so this is safe to log and go on.
            logger.warning("offset commit failed (rows already written): %s", exc)

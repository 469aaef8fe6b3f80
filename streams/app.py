"""The Faust application: thin agents over :mod:`streams.core`.

Faust is wrapped here, at the edge: the app is built by a factory (no
autodiscovery, no subclassing), messages are read and written as raw bytes and
decoded with orjson by the pure core.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faust
import orjson
from faust.types import EventT

from deskpulse.settings import KafkaSettings
from schemas import topics
from streams.core import Accepted, Rejected, process
from streams.metrics import StreamMetrics
from streams.policy_io import PolicyFollower
from streams.seen import PartitionedSeenIndex, read_seen_log

logger = logging.getLogger(__name__)

RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap: str
    partitions: int
    data_dir: Path
    app_id: str = "deskpulse-streams"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    batch_size: int = 2000
    batch_within_s: float = 0.2
    session_timeout_s: float = 6.0


class OutputBuffer:
    """Encoded records grouped into JSON-array messages per partition, each <= ``limit`` bytes.

    One Kafka message per batch and partition instead of one per record: Faust's
    per-message send path is the worker's main cost. Outputs keep the partition
    of their source message.
    """

    def __init__(self, limit: int = 256 * 1024) -> None:
        self._limit = limit
        self._parts: dict[int, list[list[bytes]]] = {}
        self._sizes: dict[int, int] = {}

    def add(self, partition: int, record: bytes) -> None:
        chunks = self._parts.setdefault(partition, [[]])
        if self._sizes.get(partition, 0) + len(record) > self._limit and chunks[-1]:
            chunks.append([])
            self._sizes[partition] = 0
        chunks[-1].append(record)
        self._sizes[partition] = self._sizes.get(partition, 0) + len(record) + 1

    def messages(self) -> Iterator[tuple[int, bytes]]:
        for partition, chunks in self._parts.items():
            for chunk in chunks:
                if chunk:
                    yield partition, b"[" + b",".join(chunk) + b"]"


def create_app(settings: WorkerSettings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_max_poll_records=settings.batch_size,
        stream_buffer_maxsize=settings.batch_size * 2,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_compression_type="lz4",
        web_enabled=True,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_bind=settings.web_host,
    )
    source = app.topic(topics.ACTIVITY, partitions=settings.partitions, **RAW)
    spans = app.topic(topics.SPANS, partitions=settings.partitions, **RAW)
    rollups = app.topic(topics.ROLLUPS, partitions=settings.partitions, **RAW)
    deadletter = app.topic(topics.DEADLETTER, partitions=settings.partitions, **RAW)
    seen_log = app.topic(topics.STREAMS_SEEN, partitions=settings.partitions, **RAW)
    seen = PartitionedSeenIndex()
    kafka = KafkaSettings(bootstrap=settings.bootstrap)
    metrics = StreamMetrics()
    follower = PolicyFollower(kafka)
    state = {"assigned": False}

    @app.task
    async def _follow_policies() -> None:
        await asyncio.to_thread(follower.start)

    @app.on_partitions_assigned.connect
    async def _assigned(app_: faust.App, assigned: set, **_: object) -> None:
        state["assigned"] = True

    def send_outcomes(batch: Iterable[EventT]) -> None:
        now_ms = int(time.time() * 1000)
        policies = follower.policies
        out = {spans: OutputBuffer(), rollups: OutputBuffer(), deadletter: OutputBuffer()}
        for event in batch:
            msg = event.message
            outcome = process(event.value, now_ms=now_ms, seen=seen, partition=msg.partition,
                              offset=msg.offset, policies=policies)
            metrics.observe(outcome)
            if isinstance(outcome, Accepted):
                for span in outcome.spans:
                    out[spans].add(msg.partition, orjson.dumps(span))
                out[rollups].add(msg.partition, orjson.dumps(outcome.rollup))
            elif isinstance(outcome, Rejected):
                out[deadletter].add(msg.partition, orjson.dumps(outcome.deadletter))
        for topic, buffer in out.items():
            for partition, value in buffer.messages():
                topic.send_soon(key=None, value=value, partition=partition)

    @app.on_partitions_revoked.connect
    async def _revoked(app_: faust.App, revoked: set, **_: object) -> None:
        for tp in revoked:
            if tp.topic == topics.ACTIVITY:
                seen.forget(tp.partition)  # reloaded from the log if it comes back

    async def ensure_seen_loaded(partitions: set[int]) -> None:
        for partition in partitions:
            if not seen.loaded(partition):
                entries = await asyncio.to_thread(read_seen_log, kafka, partition)
                seen.load(partition, entries)
                logger.info("dedup index of partition %d loaded: %d keys", partition,
                            len(entries))

    @app.agent(source)
    async def activity(stream: faust.Stream) -> None:
        while not follower.loaded.is_set():  # no event before the policies are known
            await asyncio.sleep(0.05)
        async for batch in stream.take_events(settings.batch_size,
                                              within=settings.batch_within_s):
            await ensure_seen_loaded({event.message.partition for event in batch})
            send_outcomes(batch)
            for partition, value in seen.drain():
                seen_log.send_soon(key=None, value=value, partition=partition)

    @app.timer(3600.0)
    async def _expire_seen() -> None:
        dropped = seen.expire(int(time.time() * 1000))
        if dropped:
            logger.info("dedup index: %d keys past the horizon forgotten", dropped)

    def ready() -> bool:
        return state["assigned"] and follower.loaded.is_set()

    @app.page("/health")
    async def health(web: object, request: object) -> object:
        body = {"ready": ready(), "policies_loaded": follower.loaded.is_set(),
                "dnt_entries": len(follower.policies.dnt),
                "schedules": len(follower.policies.schedules), **metrics.totals}
        return app.web.json(body, status=200 if ready() else 503)

    @app.page("/metrics")
    async def prometheus(web: object, request: object) -> object:
        return app.web.bytes(metrics.prometheus(),
                             content_type="text/plain; version=0.0.4")

    return app

"""One input batch through the pure core: outcomes tallied, outputs encoded. Pure.

The stream worker reads the activity topic in batches of up to a few thousand
messages; this module turns such a batch into what must be written back to
Kafka: spans, rollups and dead letters as JSON-array messages (one or a few per
output topic and source partition, each under :data:`MESSAGE_LIMIT` bytes), the
dedup-log entries, and the counts the metrics need. Outputs keep the partition
of their source message, so a partition's outputs and its dedup log stay with
the worker that owns it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from schemas import topics
from schemas.policy import PolicySet
from schemas.records import encode_json
from streams.auth import DeviceAuth
from streams.core import Accepted, Dropped, Duplicate, Rejected, process
from streams.seen import PartitionedSeenIndex

#: the largest output message; well under Kafka's default 1 MiB
MESSAGE_LIMIT = 256 * 1024


@dataclass
class Tally:
    """What became of the messages of one or more batches (for metrics)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    deadletter_reasons: Counter[str] = field(default_factory=Counter)
    clipped_events: int = 0
    clipped_ms: int = 0
    #: device authentication: (mode, "verified" or the reason) -> events
    auth_results: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (tenant, reason) -> events accepted unverified in warn mode
    auth_warned: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())


@dataclass
class BatchResult:
    #: (topic, partition, value) messages to send, dedup-log entries included
    messages: list[tuple[str, int, bytes]]
    tally: Tally
    #: per source partition, the offset to commit once the messages are stored
    next_offsets: dict[int, int]


#: records a long list's size is estimated from (:func:`encode_chunks`)
SAMPLE = 32


def encode_chunks(records: list, limit: int = MESSAGE_LIMIT) -> Iterator[bytes]:
    """``records`` as JSON arrays of at most ``limit`` bytes (a lone larger record alone).

    A long list is first cut into as many equal runs as its estimated size needs (from
    its first :data:`SAMPLE` records, aiming at 3/4 of ``limit``), so that it is encoded
    about once: a batch's spans of one partition are often just over ``limit``, and
    encoding them whole to find that out, then again in halves, cost twice.
    (msgspec's encoder: the worker's records are msgspec structs, which it encodes in C
    faster than orjson encodes the same dicts; dicts and lists it encodes as orjson does.)
    """
    count = len(records)
    if not count:
        return
    runs = 1
    if count > 2 * SAMPLE:
        estimate = len(encode_json(records[:SAMPLE])) * count // SAMPLE
        runs = estimate // (limit * 3 // 4) + 1
    size = -(-count // runs)
    for start in range(0, count, size):
        yield from _fitting(records[start:start + size], limit)


def _fitting(records: list, limit: int) -> Iterator[bytes]:
    """``records`` as one JSON array, or halved until each part fits ``limit``."""
    encoded = encode_json(records)
    if len(encoded) <= limit or len(records) == 1:
        yield encoded
        return
    half = len(records) // 2
    yield from _fitting(records[:half], limit)
    yield from _fitting(records[half:], limit)


#: one input message: (partition, offset, key, value)
Message = tuple[int, int, bytes | None, bytes | None]


def process_batch(batch: Iterable[Message], *, now_ms: int,
                  seen: PartitionedSeenIndex, policies: PolicySet,
                  auth: DeviceAuth | None = None, limit: int = MESSAGE_LIMIT) -> BatchResult:
    """Process ``(partition, offset, key, value)`` messages in order; nothing is sent here.
    ``auth`` None: no device authentication."""
    outputs: dict[tuple[str, int], list] = {}
    #: per source partition, its spans and rollups (one lookup per accepted event)
    accepted_out: dict[int, tuple[list, list]] = {}
    accepted = 0
    tally = Tally()
    outcomes = tally.outcomes
    next_offsets: dict[int, int] = {}

    def out(topic: str, partition: int) -> list:
        key = (topic, partition)
        found = outputs.get(key)
        if found is None:
            found = outputs[key] = []
        return found

    for partition, offset, key, raw in batch:
        next_offsets[partition] = offset + 1
        outcome = process(raw or b"", key=key, now_ms=now_ms, seen=seen, partition=partition,
                          offset=offset, policies=policies, auth=auth)
        if type(outcome) is Accepted:
            accepted += 1
            lists = accepted_out.get(partition)
            if lists is None:
                lists = accepted_out[partition] = (out(topics.SPANS, partition),
                                                   out(topics.ROLLUPS, partition))
            lists[0].extend(outcome.spans)
            lists[1].append(outcome.rollup)
            if outcome.clipped_ms:
                tally.clipped_events += 1
                tally.clipped_ms += outcome.clipped_ms
        elif type(outcome) is Rejected:
            outcomes["deadlettered"] += 1
            tally.deadletter_reasons[outcome.deadletter["reason"]] += 1
            out(topics.DEADLETTER, partition).append(outcome.deadletter)
        elif type(outcome) is Duplicate:
            outcomes["duplicate"] += 1
        elif type(outcome) is Dropped:
            outcomes[f"dropped_{outcome.reason}"] += 1

    if accepted:
        outcomes["accepted"] += accepted
    if auth is not None:
        tally.auth_results, tally.auth_warned = auth.drain()
    messages = [(topics.STREAMS_SEEN, partition, value) for partition, entries in seen.drain()
                for value in encode_chunks(entries, limit)]
    for (topic, partition), records in outputs.items():
        messages.extend((topic, partition, value) for value in encode_chunks(records, limit))
    return BatchResult(messages, tally, next_offsets)

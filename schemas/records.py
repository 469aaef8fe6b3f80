"""Records the stream workers emit and the sink stores (topics spans, rollups, deadletter).

They are encoded with orjson (dataclasses serialize natively) and decoded by the
sink straight into table rows; field names are the wire names. A message holds
one record (a JSON object) or a batch of records (a JSON array): the stream
worker sends one array per input batch and partition, at most 256 KiB each.
"""

from __future__ import annotations

from dataclasses import dataclass

#: dead-letter payloads are truncated to this many bytes
PAYLOAD_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """A clean span after policies, on ``deskpulse.spans``."""

    event_id: str
    tenant: str
    user: str
    host: str
    app: str
    exe: str
    title: str
    url: str
    domain: str
    start_ms: int
    end_ms: int
    idle: bool


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """One span's contribution to each UTC minute it touches, on ``deskpulse.rollups``.

    ``minutes`` holds ``[minute_start_epoch_seconds, milliseconds]`` pairs. The
    sink stores one row per (event_id, minute); the ``activity_minutes`` view sums
    them per (tenant, user, host, app, domain, minute), so a rollup that is
    emitted or written again never counts twice.
    """

    event_id: str
    tenant: str
    user: str
    host: str
    app: str
    domain: str
    idle: bool
    minutes: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message with its reason, on ``deskpulse.deadletter``."""

    received_at_ms: int
    reason: str
    detail: str
    field: str
    payload: str
    topic: str
    partition: int
    offset: int
    tenant: str = ""
    user: str = ""

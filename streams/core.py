"""The pure core of the stream worker: one raw message in, what to emit out.

No Kafka, Faust or ClickHouse here; the Faust agents in :mod:`streams.app` call
:func:`process` and send what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas.activity import LATE_HORIZON_MS, ActivityEvent
from schemas.records import PAYLOAD_LIMIT, DeadLetter, RollupRecord, SpanRecord
from schemas.topics import ACTIVITY
from schemas.validate import Invalid, decode, validate_event
from streams.minutes import split_minutes


class SeenIndex(Protocol):
    """Remembers which ``(tenant, event_id)`` were processed, within the horizon."""

    def add_if_absent(self, key: str, partition: int, expires_ms: int) -> bool:
        """Record ``key``; True if it was not there (the event is new)."""
        ...


class MemorySeenIndex:
    """In-memory :class:`SeenIndex` (tests, benchmarks)."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def add_if_absent(self, key: str, partition: int, expires_ms: int) -> bool:
        if key in self.entries:
            return False
        self.entries[key] = expires_ms
        return True


@dataclass(frozen=True, slots=True)
class Accepted:
    span: SpanRecord
    rollup: RollupRecord


@dataclass(frozen=True, slots=True)
class Rejected:
    deadletter: DeadLetter


@dataclass(frozen=True, slots=True)
class Duplicate:
    event_id: str


Outcome = Accepted | Rejected | Duplicate


def seen_key(tenant: str, event_id: str) -> str:
    return f"{tenant}\x1f{event_id}"


def _best_effort_subject(obj: object) -> tuple[str, str]:
    if isinstance(obj, dict):
        tenant, user = obj.get("tenant"), obj.get("user")
        return (tenant if isinstance(tenant, str) else "")[:64], \
            (user if isinstance(user, str) else "")[:255]
    return "", ""


def reject(raw: bytes, invalid: Invalid, *, obj: object, now_ms: int,
           partition: int, offset: int, topic: str = ACTIVITY) -> Rejected:
    tenant, user = _best_effort_subject(obj)
    payload = raw[:PAYLOAD_LIMIT].decode("utf-8", errors="replace")
    return Rejected(DeadLetter(
        received_at_ms=now_ms, reason=invalid.reason, detail=invalid.detail, field=invalid.field,
        payload=payload, topic=topic, partition=partition, offset=offset,
        tenant=tenant, user=user,
    ))


def accept(event: ActivityEvent) -> Accepted:
    domain = event.domain
    span = SpanRecord(
        event_id=event.event_id, tenant=event.tenant, user=event.user, host=event.host,
        app=event.app, exe=event.exe, title=event.title, url=event.url, domain=domain,
        start_ms=event.start_ms, end_ms=event.end_ms, idle=event.idle,
    )
    rollup = RollupRecord(
        event_id=event.event_id, tenant=event.tenant, user=event.user, host=event.host,
        app=event.app, domain=domain, idle=event.idle,
        minutes=split_minutes(event.start_ms, event.end_ms),
    )
    return Accepted(span, rollup)


def process(raw: bytes, *, now_ms: int, seen: SeenIndex, partition: int, offset: int) -> Outcome:
    """Validate, deduplicate and split one raw activity message."""
    obj = decode(raw)
    if isinstance(obj, Invalid):
        return reject(raw, obj, obj=None, now_ms=now_ms, partition=partition, offset=offset)
    checked = validate_event(obj, now_ms)
    if isinstance(checked, Invalid):
        return reject(raw, checked, obj=obj, now_ms=now_ms, partition=partition, offset=offset)
    if not seen.add_if_absent(seen_key(checked.tenant, checked.event_id), partition,
                              checked.end_ms + LATE_HORIZON_MS):
        return Duplicate(checked.event_id)
    return accept(checked)

"""The pure core of the stream worker: one raw message in, what to emit out.

No Kafka, Faust or ClickHouse here; the batch loop (:mod:`streams.ingest`, through
:mod:`streams.batch`) calls :func:`process` and sends what it returns.

Attribution: an event is stored as the person and computer its payload names only
when the message key agrees with it (``<tenant>/<user>``, else ``key_mismatch``)
and, unless the tenant's device authentication is off, when its signature verifies
for that computer (:mod:`streams.auth`). An event's identity is
``(tenant, user, host, event_id)``: the same ``event_id`` from another person or
computer is another event, never a duplicate of the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from schemas.activity import LATE_HORIZON_MS, ActivityEvent
from schemas.categories import UNCATEGORIZED, Label
from schemas.policy import PolicySet
from schemas.records import DeadLetter, Rollup, Span, payload_text
from schemas.topics import ACTIVITY
from schemas.validate import Invalid, decode, parse_valid, validate_event
from streams.auth import DeviceAuth
from streams.minutes import split_minutes


class SeenIndex(Protocol):
    """Remembers which events (:func:`seen_key`) were processed, within the horizon."""

    def add_if_absent(self, key: str, partition: int, offset: int, expires_ms: int) -> bool:
        """Record ``key``; True if the event must be processed.

        True when the key is new, and also when it was recorded by this very
        message (same partition and offset): a message read again after a crash
        is processed again (its outputs may not have been written), whereas
        another message with the same key is a duplicate.
        """
        ...


@dataclass(slots=True)
class Accepted:
    """(Not frozen: a frozen dataclass's ``__init__`` goes through ``object.__setattr__``
    per field, ~1 us per accepted event in the worker.)"""

    spans: list[Span]
    rollup: Rollup
    clipped_ms: int = 0


@dataclass(frozen=True, slots=True)
class Rejected:
    deadletter: DeadLetter


@dataclass(frozen=True, slots=True)
class Duplicate:
    event_id: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """Dropped by a policy: nothing of it is stored anywhere."""

    reason: str  # "dnt" | "out_of_hours"


Outcome = Accepted | Rejected | Duplicate | Dropped
EMPTY_POLICIES = PolicySet()


def seen_key(tenant: str, user: str, host: str, event_id: str) -> str:
    """The identity of an event: its ``event_id`` within its person and computer."""
    return f"{tenant}\x1f{user}\x1f{host}\x1f{event_id}"


def key_problem(key: bytes | None, event: ActivityEvent) -> Invalid | None:
    """Why the message key does not name the event's tenant and user, if it does not.

    A message without a key is refused too: the key decides the partition, and a
    person's events must all reach the one partition whose dedup index knows them
    (the collector always sets it).
    """
    if key is None:
        return Invalid("key_mismatch", "the message has no key; expected "
                                       f"{event.tenant}/{event.user}"[:300], "key")
    if key != f"{event.tenant}/{event.user}".encode():
        return Invalid("key_mismatch", f"message key {key[:100]!r} does not name the event's "
                                       f"tenant/user {event.tenant}/{event.user}"[:400], "key")
    return None


def _best_effort_subject(obj: object) -> tuple[str, str, str]:
    """The tenant, user and host a rejected payload names, where they are strings ("" if not)."""
    if isinstance(obj, dict):
        tenant, user, host = obj.get("tenant"), obj.get("user"), obj.get("host")
        return (tenant if isinstance(tenant, str) else "")[:64], \
            (user if isinstance(user, str) else "")[:255], \
            (host if isinstance(host, str) else "")[:255]
    return "", "", ""


def reject(raw: bytes, invalid: Invalid, *, obj: object, now_ms: int,
           partition: int, offset: int, topic: str = ACTIVITY) -> Rejected:
    tenant, user, host = _best_effort_subject(obj)
    payload = payload_text(raw)
    return Rejected(DeadLetter(
        received_at_ms=now_ms, reason=invalid.reason, detail=invalid.detail, field=invalid.field,
        payload=payload, topic=topic, partition=partition, offset=offset,
        tenant=tenant, user=user, host=host,
    ))


def accept(event: ActivityEvent, parts: list[tuple[int, int]] | None = None,
           label: Label = UNCATEGORIZED) -> Accepted:
    """Spans and minute rollup of a valid event; ``parts`` are its in-schedule pieces.

    (Records are msgspec structs, :class:`~schemas.records.Span` and
    :class:`~schemas.records.Rollup`: built and encoded in C, ~0.5 us less per record
    than a dict display, and this runs for every event.)
    """
    domain = event.domain
    start, end = event.start_ms, event.end_ms
    event_id, tenant, user, host, app = (event.event_id, event.tenant, event.user, event.host,
                                         event.app)
    category, productivity, idle = label.category, label.productivity, event.idle
    if parts is None or (len(parts) == 1 and parts[0] == (start, end)):
        parts = [(start, end)]
        minutes = split_minutes(start, end)
        clipped = 0
    else:
        merged: dict[int, int] = {}
        for part_start, part_end in parts:
            for minute, ms in split_minutes(part_start, part_end):
                merged[minute] = merged.get(minute, 0) + ms
        minutes = sorted(merged.items())
        clipped = (end - start) - sum(e - s for s, e in parts)
    exe, title, url = event.exe, event.title, event.url
    spans: list[Span] = [Span(
        event_id=event_id, tenant=tenant, user=user, host=host, app=app,
        exe=exe, title=title, url=url, domain=domain,
        start_ms=part_start, end_ms=part_end, idle=idle,
        category=category, productivity=productivity,
    ) for part_start, part_end in parts]
    rollup: Rollup = Rollup(
        event_id=event_id, tenant=tenant, user=user, host=host, app=app,
        domain=domain, idle=idle, minutes=minutes,
        category=category, productivity=productivity,
    )
    return Accepted(spans, rollup, clipped_ms=clipped)


def process(raw: bytes, *, key: bytes | None, now_ms: int, seen: SeenIndex, partition: int,
            offset: int, policies: PolicySet = EMPTY_POLICIES,
            auth: DeviceAuth | None = None) -> Outcome:
    """Do-not-track, validate, check key and signature, deduplicate, clip to working hours,
    label, split into minutes.

    Do-not-track comes first, before validation: nothing of a listed subject
    reaches any output, dead letters included. (A message :func:`parse_valid` accepts in
    one C pass is valid, so checking its subject first or second is the same; any
    other goes the Python way, do-not-track on the decoded object, then validation.)
    The key and the signature are checked before deduplication, so a refused message
    leaves no dedup state behind.
    ``auth`` None: no device authentication (as mode ``off``).
    """
    checked: Any = parse_valid(raw, now_ms)  # the common case: decoded and checked in C
    if checked is not None:
        if policies.dnt and policies.blocked(checked.tenant, checked.user, checked.host,
                                             now_ms, checked.start_ms, checked.end_ms):
            return Dropped("dnt")
        member = checked.auth
        obj: Any = None  # decoded again only for a dead letter
    else:  # maybe invalid: the Python checks decide, and say why
        obj = decode(raw)
        if isinstance(obj, Invalid):
            return reject(raw, obj, obj=None, now_ms=now_ms, partition=partition,
                          offset=offset)
        if isinstance(obj, dict) and policies.dnt and policies.blocked(
                obj.get("tenant"), obj.get("user"), obj.get("host"), now_ms,
                obj.get("start_ms"), obj.get("end_ms")):
            return Dropped("dnt")
        checked = validate_event(obj, now_ms)
        if isinstance(checked, Invalid):
            return reject(raw, checked, obj=obj, now_ms=now_ms, partition=partition,
                          offset=offset)
        member = obj.get("auth")
    problem = None if key == checked.key else key_problem(key, checked)
    if problem is None and auth is not None:
        problem = auth.check(policies.devices, checked.tenant, checked.host, checked.user,
                             key or b"", raw, member)
    if problem is not None:
        return reject(raw, problem, obj=decode(raw) if obj is None else obj, now_ms=now_ms,
                      partition=partition, offset=offset)
    if not seen.add_if_absent(seen_key(checked.tenant, checked.user, checked.host,
                                       checked.event_id), partition, offset,
                              checked.end_ms + LATE_HORIZON_MS):
        return Duplicate(checked.event_id)
    schedule = policies.schedule_for(checked.tenant, checked.user)
    parts = None
    if schedule is not None:
        parts = schedule.clip(checked.start_ms, checked.end_ms)
        if not parts:  # (a zero-length event has no part either: it carries no time)
            return Dropped("out_of_hours")
    label = policies.categories.label(checked.tenant, checked.user, checked.app,
                                      checked.domain, checked.title)
    return accept(checked, parts, label)

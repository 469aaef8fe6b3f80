"""Span building: merge 1 s samples into v1 events. Pure and sans-io.

A span stays open while samples show the same activity (app, exe, title, url)
and idle state, each arriving within ``pulsetime`` of the previous one. It is
closed when the activity or idle state changes, when a gap longer than
``pulsetime`` separates two samples, and when it reaches ``max_span`` (so
that data keeps flowing during long stretches of one activity).

Each span's ``event_id`` is a UUIDv8 (RFC 9562) made of a random 60-bit *run id*,
drawn once per builder (one collector process), and the span's 62-bit sequence
number (``seq``, kept across restarts by the spool): see :func:`event_id`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from schemas.activity import SCHEMA_ID, ActivityEvent

logger = logging.getLogger(__name__)

RUN_ID_BITS = 60
SEQ_BITS = 62


def new_run_id() -> int:
    """A fresh random run id (60 bits, from the OS's CSPRNG; no module to load for it)."""
    return int.from_bytes(os.urandom(8), "big") >> (64 - RUN_ID_BITS)


def event_id(run_id: int, seq: int) -> str:
    """The id of the span numbered ``seq`` in run ``run_id``: a UUIDv8, as 32 hex digits.

    Layout (RFC 9562, section 5.8): the run id's high 48 bits, the version (8), its low
    12 bits, the variant (0b10), then ``seq`` in the last 62 bits. Within a run the
    sequence grows, so no two spans share an id; two runs share one only if their random
    run ids are equal and the spool's sequence went back (it was deleted). Unlike a
    random UUIDv4 this costs the store about 1 byte per span instead of 16: the spans of
    one computer sit together in ``spans_store`` and repeat their run id
    (docs/clickhouse.md, "Storage per person-day").
    """
    if not 0 <= run_id < 1 << RUN_ID_BITS:
        raise ValueError(f"run id out of range: {run_id}")
    if not 0 <= seq < 1 << SEQ_BITS:
        raise ValueError(f"sequence number out of range: {seq}")
    value = ((run_id >> 12) << 80) | (8 << 76) | ((run_id & 0xFFF) << 64) | (0b10 << 62) | seq
    return f"{value:032x}"


@dataclass(frozen=True, slots=True)
class Sample:
    """What the probes saw at one instant."""

    at_ms: int
    app: str
    exe: str = ""
    title: str = ""
    url: str = ""
    idle: bool = False

    def same_activity(self, other: Sample) -> bool:
        return (self.app, self.exe, self.title, self.url, self.idle) == \
            (other.app, other.exe, other.title, other.url, other.idle)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who and where the collector runs."""

    tenant: str
    host: str
    user: str
    client_version: str


@dataclass(frozen=True, slots=True)
class OpenSpan:
    first: Sample
    start_ms: int
    last_ms: int


@dataclass(frozen=True)
class SpanPolicy:
    pulsetime_ms: int = 2_000
    max_span_ms: int = 60_000


class SpanBuilder:
    """Feeds samples in, gets closed spans (events) out.

    Holds only the open span and the sequence counter; never mutates samples.
    """

    def __init__(self, identity: Identity, policy: SpanPolicy | None = None, *,
                 next_seq: int = 0, new_id: Callable[[], str] | None = None,
                 run_id: int | None = None) -> None:
        self.identity = identity
        self.policy = policy or SpanPolicy()
        self.run_id = new_run_id() if run_id is None else run_id
        if not 0 <= next_seq < 1 << SEQ_BITS:
            # a damaged spool: start again at 0 (the fresh run id keeps the ids apart)
            logger.warning("the stored sequence number %d is out of range: numbering the "
                           "spans from 0 again", next_seq)
            next_seq = 0
        self.next_seq = next_seq
        self._new_id = new_id
        self.open: OpenSpan | None = None

    def _event(self, span: OpenSpan, end_ms: int) -> ActivityEvent | None:
        if end_ms <= span.start_ms:
            return None
        s, ident = span.first, self.identity
        if self.next_seq >= 1 << SEQ_BITS:  # 2^62 spans: never, but then a run of its own
            self.run_id, self.next_seq = new_run_id(), 0
        event = ActivityEvent(
            schema=SCHEMA_ID,
            event_id=self._new_id() if self._new_id else event_id(self.run_id, self.next_seq),
            tenant=ident.tenant, host=ident.host,
            user=ident.user, app=s.app, start_ms=span.start_ms, end_ms=end_ms, exe=s.exe,
            title=s.title, url=s.url, idle=s.idle, client_version=ident.client_version,
            seq=self.next_seq,
        )
        self.next_seq += 1
        return event

    def feed(self, sample: Sample) -> list[ActivityEvent]:
        """Take one sample; returns the spans it closed (zero, one or two)."""
        out: list[ActivityEvent] = []
        span = self.open
        if span is None:
            self.open = OpenSpan(sample, sample.at_ms, sample.at_ms)
            return out
        if sample.at_ms < span.last_ms:
            return out  # clock went backwards: ignore the sample rather than corrupt the span
        gap = sample.at_ms - span.last_ms
        contiguous = gap <= self.policy.pulsetime_ms
        if contiguous and sample.same_activity(span.first):
            if sample.at_ms - span.start_ms >= self.policy.max_span_ms:
                # cut at the maximum length, keep going with a fresh span
                cut = span.start_ms + self.policy.max_span_ms
                event = self._event(span, cut)
                if event:
                    out.append(event)
                self.open = OpenSpan(replace(sample, at_ms=cut), cut, sample.at_ms)
            else:
                self.open = OpenSpan(span.first, span.start_ms, sample.at_ms)
            return out
        # a change: the old activity lasted until now if the samples were contiguous,
        # otherwise until its last sample
        event = self._event(span, sample.at_ms if contiguous else span.last_ms)
        if event:
            out.append(event)
        self.open = OpenSpan(sample, sample.at_ms, sample.at_ms)
        return out

    def flush(self, at_ms: int | None = None) -> list[ActivityEvent]:
        """Close the open span (at ``at_ms``, or at its last sample) and return it."""
        span, self.open = self.open, None
        if span is None:
            return []
        end = span.last_ms if at_ms is None else max(span.last_ms, at_ms)
        if end - span.last_ms > self.policy.pulsetime_ms:
            end = span.last_ms
        event = self._event(span, end)
        return [event] if event else []

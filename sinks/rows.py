"""Pure preparation of sink input for ClickHouse.

The sink does not decode records in Python: it hands the messages of the spans,
rollups and dead-letter topics to ClickHouse as JSONEachRow, into the Null
tables ``*_in`` whose materialized views write the storage tables (migration
0003). Here: joining messages into one insert body, counting records, and the
Python check used only when ClickHouse refused a batch, to find the poison
messages and dead-letter them instead of retrying forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from schemas import topics
from schemas.records import payload_text

#: source topic -> the Null table its records are inserted into
INPUT_TABLES = {
    topics.SPANS: "deskpulse.spans_in",
    topics.ROLLUPS: "deskpulse.rollups_in",
    topics.DEADLETTER: "deskpulse.deadletter_in",
}


def _str(v: object) -> bool:
    return isinstance(v, str)


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63


def _bool(v: object) -> bool:
    return isinstance(v, bool)


def _minutes(v: object) -> bool:
    return isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and _int(p[0]) and _int(p[1])
        and p[0] < 2**32 and p[1] < 2**32 for p in v)


_Check = Callable[[object], bool]
FIELDS: dict[str, dict[str, _Check]] = {
    topics.SPANS: {"event_id": _str, "tenant": _str, "user": _str, "host": _str, "app": _str,
                   "exe": _str, "title": _str, "url": _str, "domain": _str, "start_ms": _int,
                   "end_ms": _int, "idle": _bool},
    topics.ROLLUPS: {"event_id": _str, "tenant": _str, "user": _str, "host": _str, "app": _str,
                     "domain": _str, "idle": _bool, "minutes": _minutes},
    topics.DEADLETTER: {"received_at_ms": _int, "reason": _str, "detail": _str, "field": _str,
                        "payload": _str, "topic": _str, "partition": _int, "offset": _int},
}
#: a key every record of the topic has exactly once (records are counted by it)
_MARKER = {topics.SPANS: b'"event_id"', topics.ROLLUPS: b'"event_id"',
           topics.DEADLETTER: b'"received_at_ms"'}


def insert_body(values: Sequence[bytes]) -> bytes:
    """Messages (each one record or an array of records) as one JSON array of records."""
    parts = []
    for value in values:
        value = value.strip()
        if value.startswith(b"["):
            value = value[1:-1].strip()
        if value:
            parts.append(value)
    return b"[" + b",".join(parts) + b"]"


def count_records(topic: str, value: bytes) -> int:
    return value.count(_MARKER[topic])


def problem(topic: str, value: bytes) -> str | None:
    """Why ClickHouse cannot take this message (None: it can)."""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    records = decoded if isinstance(decoded, list) else [decoded]
    fields = FIELDS[topic]
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return f"record {i} is not an object"
        for name, ok in fields.items():
            if name not in record or not ok(record[name]):
                return f"record {i}: field {name!r} missing or of the wrong type"
    return None


def poison_subject(value: bytes) -> tuple[str, str, str]:
    """The tenant, user and host of a message the sink cannot store, best effort.

    A field is filled when the message parses and every record in it names the same string
    there (a batch of several people leaves it empty; ``forget`` matches the payload then).
    """
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "", "", ""
    records = [r for r in (decoded if isinstance(decoded, list) else [decoded])
               if isinstance(r, dict)]

    def common(name: str, limit: int) -> str:
        values = [r.get(name) for r in records]
        if values and isinstance(values[0], str) and all(v == values[0] for v in values):
            return values[0][:limit]
        return ""

    return common("tenant", 64), common("user", 255), common("host", 255)


def poison_record(value: bytes, reason: str, *, topic: str, partition: int, offset: int,
                  now_ms: int) -> bytes:
    """A dead-letter record for a message the sink itself could not store."""
    tenant, user, host = poison_subject(value)
    return orjson.dumps({
        "received_at_ms": now_ms, "reason": "sink_undecodable", "detail": reason[:1000],
        "field": "", "payload": payload_text(value),
        "topic": topic, "partition": partition, "offset": offset,
        "tenant": tenant, "user": user, "host": host})

"""Pure decoding of sink input messages into table rows.

DateTime64(3) values are passed as integer milliseconds (the column's ticks),
DateTime values as integer epoch seconds: no per-row datetime objects.

Each function takes a message value (bytes) and returns rows for one storage
table, or raises :class:`PoisonMessage` so that the loop can dead-letter it.
"""

from __future__ import annotations

import orjson

from schemas import topics
from schemas.records import PAYLOAD_LIMIT

SPAN_COLUMNS = ("event_id", "tenant", "user", "host", "app", "exe", "title", "url", "domain",
                "start", "end", "idle")
MINUTE_COLUMNS = ("tenant", "user", "host", "app", "domain", "minute", "event_id",
                  "active_ms", "idle_ms")
DEADLETTER_COLUMNS = ("received_at", "reason", "detail", "field", "payload", "topic",
                      "partition", "offset", "tenant", "user")

TABLES = {
    topics.SPANS: ("deskpulse.spans_store", SPAN_COLUMNS),
    topics.ROLLUPS: ("deskpulse.minutes_store", MINUTE_COLUMNS),
    topics.DEADLETTER: ("deskpulse.deadletter_store", DEADLETTER_COLUMNS),
}


class PoisonMessage(ValueError):
    """A message the sink cannot turn into rows."""


def _records(value: bytes) -> list[dict]:
    """A message holds one record (an object) or a batch of them (an array)."""
    decoded = orjson.loads(value)
    return decoded if isinstance(decoded, list) else [decoded]


def span_rows(value: bytes) -> list[tuple]:
    try:
        return [(d["event_id"], d["tenant"], d["user"], d["host"], d["app"], d["exe"], d["title"],
                 d["url"], d["domain"], int(d["start_ms"]), int(d["end_ms"]), bool(d["idle"]))
                for d in _records(value)]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PoisonMessage(f"undecodable span record: {exc!r}") from exc


def minute_rows(value: bytes) -> list[tuple]:
    try:
        rows = []
        for d in _records(value):
            dims = (d["tenant"], d["user"], d["host"], d["app"], d["domain"])
            event_id, idle = d["event_id"], bool(d["idle"])
            rows.extend((*dims, minute, event_id, 0 if idle else ms, ms if idle else 0)
                        for minute, ms in d["minutes"])
        return rows
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage(f"undecodable rollup record: {exc!r}") from exc


def deadletter_rows(value: bytes) -> list[tuple]:
    try:
        return [(int(d["received_at_ms"]), d["reason"], d["detail"], d["field"], d["payload"],
                 d["topic"], d["partition"], d["offset"], d.get("tenant", ""), d.get("user", ""))
                for d in _records(value)]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PoisonMessage(f"undecodable dead-letter record: {exc!r}") from exc


DECODERS = {
    topics.SPANS: span_rows,
    topics.ROLLUPS: minute_rows,
    topics.DEADLETTER: deadletter_rows,
}


def poison_row(value: bytes, reason: str, *, topic: str, partition: int, offset: int,
               now_ms: int) -> tuple:
    """A dead-letter row for a message the sink itself could not decode."""
    payload = value[:PAYLOAD_LIMIT].decode("utf-8", errors="replace")
    return (now_ms, "sink_undecodable", reason, "", payload, topic, partition, offset, "", "")

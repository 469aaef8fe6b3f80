"""Pure decoding of sink input messages into table rows.

DateTime64(3) values are passed as integer milliseconds (the column's ticks),
DateTime values as integer epoch seconds: no per-row datetime objects.

Each decoder takes a message value (bytes) and returns ``{table: rows}``, or
raises :class:`PoisonMessage` so that the loop can dead-letter it. A rollup
record becomes rows of three tables at once: per (span, minute), per (span,
hour) and per (span, day). They are computed here from the whole record rather
than by ClickHouse materialized views: a view fires per insert block, and a
block boundary inside one span would store its hour as two partial rows with one
key, of which ReplacingMergeTree keeps only one.
"""

from __future__ import annotations

import orjson

from schemas import topics
from schemas.records import PAYLOAD_LIMIT

SPAN_COLUMNS = ("event_id", "tenant", "user", "host", "app", "exe", "title", "url", "domain",
                "start", "end", "idle")
MINUTE_COLUMNS = ("tenant", "user", "host", "app", "domain", "minute", "event_id",
                  "active_ms", "idle_ms")
HOUR_COLUMNS = ("tenant", "user", "host", "app", "domain", "hour", "event_id",
                "active_ms", "idle_ms")
DAY_COLUMNS = ("tenant", "user", "host", "app", "domain", "day", "event_id",
               "active_ms", "idle_ms")
DEADLETTER_COLUMNS = ("received_at", "reason", "detail", "field", "payload", "topic",
                      "partition", "offset", "tenant", "user")

SPANS_TABLE = "deskpulse.spans_store"
MINUTES_TABLE = "deskpulse.minutes_store"
HOURS_TABLE = "deskpulse.hours_store"
DAYS_TABLE = "deskpulse.days_store"
DEADLETTER_TABLE = "deskpulse.deadletter_store"

#: storage table -> its columns, in the order the decoders produce them
TABLES = {
    SPANS_TABLE: SPAN_COLUMNS,
    MINUTES_TABLE: MINUTE_COLUMNS,
    HOURS_TABLE: HOUR_COLUMNS,
    DAYS_TABLE: DAY_COLUMNS,
    DEADLETTER_TABLE: DEADLETTER_COLUMNS,
}


class PoisonMessage(ValueError):
    """A message the sink cannot turn into rows."""


def _records(value: bytes) -> list[dict]:
    """A message holds one record (an object) or a batch of them (an array)."""
    decoded = orjson.loads(value)
    return decoded if isinstance(decoded, list) else [decoded]


def span_rows(value: bytes) -> dict[str, list[tuple]]:
    try:
        return {SPANS_TABLE: [
            (d["event_id"], d["tenant"], d["user"], d["host"], d["app"], d["exe"], d["title"],
             d["url"], d["domain"], int(d["start_ms"]), int(d["end_ms"]), bool(d["idle"]))
            for d in _records(value)]}
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PoisonMessage(f"undecodable span record: {exc!r}") from exc


def rollup_rows(value: bytes) -> dict[str, list[tuple]]:
    """Minute rows, plus the same time summed per UTC hour and per UTC day."""
    minutes: list[tuple] = []
    hours: list[tuple] = []
    days: list[tuple] = []
    try:
        for d in _records(value):
            dims = (d["tenant"], d["user"], d["host"], d["app"], d["domain"])
            event_id, idle = d["event_id"], bool(d["idle"])
            per_hour: dict[int, int] = {}
            per_day: dict[int, int] = {}
            for minute, ms in d["minutes"]:
                minutes.append((*dims, minute, event_id, 0 if idle else ms, ms if idle else 0))
                hour = minute - minute % 3600
                per_hour[hour] = per_hour.get(hour, 0) + ms
                day = minute // 86400
                per_day[day] = per_day.get(day, 0) + ms
            hours.extend((*dims, h, event_id, 0 if idle else ms, ms if idle else 0)
                         for h, ms in per_hour.items())
            days.extend((*dims, day, event_id, 0 if idle else ms, ms if idle else 0)
                        for day, ms in per_day.items())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage(f"undecodable rollup record: {exc!r}") from exc
    return {MINUTES_TABLE: minutes, HOURS_TABLE: hours, DAYS_TABLE: days}


def deadletter_rows(value: bytes) -> dict[str, list[tuple]]:
    try:
        return {DEADLETTER_TABLE: [
            (int(d["received_at_ms"]), d["reason"], d["detail"], d["field"], d["payload"],
             d["topic"], d["partition"], d["offset"], d.get("tenant", ""), d.get("user", ""))
            for d in _records(value)]}
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PoisonMessage(f"undecodable dead-letter record: {exc!r}") from exc


DECODERS = {
    topics.SPANS: span_rows,
    topics.ROLLUPS: rollup_rows,
    topics.DEADLETTER: deadletter_rows,
}


def poison_row(value: bytes, reason: str, *, topic: str, partition: int, offset: int,
               now_ms: int) -> tuple:
    """A dead-letter row for a message the sink itself could not decode."""
    payload = value[:PAYLOAD_LIMIT].decode("utf-8", errors="replace")
    return (now_ms, "sink_undecodable", reason, "", payload, topic, partition, offset, "", "")

"""Hostile input for the raw topic, each message with the dead-letter reason it must get.

Seeded and varied: random bytes, broken and adversarial JSON (deep nesting, huge
numbers, lone surrogates, a byte-order mark), wrong types, oversized and
malformed fields, unicode in identifiers, timestamps far in the future and past.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson

DAY = 86_400_000
Message = tuple[bytes, str]


def _event(now: int, rng: random.Random, i: int, **changes: object) -> dict:
    start = now - rng.randint(60_000, DAY)
    ev = {"schema": "deskpulse.activity.v1", "event_id": f"hostile-{i}", "tenant": "acme",
          "host": "pc-h", "user": f"h{i % 7}", "app": "code", "start_ms": start,
          "end_ms": start + rng.randint(0, 60_000)}
    ev.update(changes)
    return {k: v for k, v in ev.items() if v is not ...}


def _raw(now: int, rng: random.Random, i: int) -> Message:
    kind = rng.randrange(8)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) + b"\xff", \
            "invalid_json"
    if kind == 1:
        if rng.random() < 0.5:
            depth = rng.randint(2000, 5000)  # beyond the parser's nesting limit
            return b"[" * depth + b"]" * depth, "invalid_json"
        depth = rng.randint(2, 200)
        return b"[" * depth + b"]" * depth, "not_an_object"
    if kind == 2:
        return b'{"schema": "deskpulse.activity.v1", "event_id": "\\ud800"}', "invalid_json"
    if kind == 3:
        return b"\xef\xbb\xbf" + orjson.dumps(_event(now, rng, i)), "invalid_json"  # BOM
    if kind == 4:  # an integer beyond 64 bits arrives as a float
        event = orjson.dumps(_event(now, rng, i, start_ms=0))
        return event.replace(b'"start_ms":0', b'"start_ms":1' + b"0" * 40), "wrong_type"
    if kind == 5:
        value = rng.choice([b"", b"null", b"true", b"[]", b"3.5"])
        return value, "invalid_json" if value == b"" else "not_an_object"
    if kind == 6:
        return orjson.dumps(_event(now, rng, i))[:-rng.randint(1, 20)], "invalid_json"
    return orjson.dumps([_event(now, rng, i)]), "not_an_object"


def _fields(now: int, rng: random.Random, i: int) -> Message:
    cases: list[Callable[[], Message]] = [
        lambda: (orjson.dumps(_event(now, rng, i, schema="deskpulse.activity.v2")),
                 "unknown_schema"),
        lambda: (orjson.dumps(_event(now, rng, i, user=...)), "missing_field"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=str(now))), "wrong_type"),
        lambda: (orjson.dumps(_event(now, rng, i, idle="yes")), "wrong_type"),
        lambda: (orjson.dumps(_event(now, rng, i, host=["a"])), "wrong_type"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=float(now))), "wrong_type"),
        lambda: (orjson.dumps(_event(now, rng, i, app="")), "empty"),
        lambda: (orjson.dumps(_event(now, rng, i, title="\U0001F600" * 2000)), "too_long"),
        lambda: (orjson.dumps(_event(now, rng, i, url="https://x.org/" + "a" * 300_000)),
                 "too_long"),
        lambda: (orjson.dumps(_event(now, rng, i, tenant="ac\u202eme")), "bad_format"),
        lambda: (orjson.dumps(_event(now, rng, i, tenant="ünïcödé")), "bad_format"),
        lambda: (orjson.dumps(_event(now, rng, i, seq=-1)), "negative"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=now - 5_000, end_ms=now - 9_000)),
                 "end_before_start"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=now - 3 * 3_600_000,
                                     end_ms=now - 60_000)), "span_too_long"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=now + 365 * DAY,
                                     end_ms=now + 365 * DAY + 1)), "in_future"),
        lambda: (orjson.dumps(_event(now, rng, i, start_ms=631_152_000_000,
                                     end_ms=631_152_000_500)), "too_old"),
    ]
    return rng.choice(cases)()


def hostile(count: int, now: int, seed: int = 11) -> list[Message]:
    rng = random.Random(seed)
    return [(_raw if rng.random() < 0.4 else _fields)(now, rng, i) for i in range(count)]

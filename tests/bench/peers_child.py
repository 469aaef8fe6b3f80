"""The contenders of the side-by-side bench (:mod:`tests.bench.peers`), one process each.

Run by the bench, never imported by it: ``python -P tests/bench/peers_child.py ROLE BOOTSTRAP
COUNT RESULT_FILE`` with the source tree on ``PYTHONPATH``. ``bare`` runs in the project's
virtualenv; ``quix`` in the bench-only one that holds Quix Streams (``make bench-peers-venv``:
Quix pins an older confluent-kafka than deskpulse's). Only orjson, confluent-kafka,
Quix Streams and the pure modules ``schemas.validate`` and ``streams.minutes`` are
imported here (and msgspec, which schemas.validate needs), so both virtualenvs can run it.

Each contender reads the activity topic from its beginning in a consumer group of its
own and writes ``{"events", "seconds", "cpu_seconds"}`` to RESULT_FILE: the clock (wall
and CPU of this process) runs from the first message handled to the last one handled,
outputs acknowledged and offsets committed included (Quix: until its ``run`` returns).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import orjson

ACTIVITY = "deskpulse.activity"


def bare(bootstrap: str, count: int) -> dict[str, float]:
    """The ceiling: confluent-kafka ``consume`` batches and one ``orjson.loads`` per message."""
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bare-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([ACTIVITY])
    seen = 0
    started = cpu = 0.0
    loads = orjson.loads
    deadline = time.monotonic() + 600
    while seen < count and time.monotonic() < deadline:
        messages = consumer.consume(5000, 0.1)
        if messages and not seen:
            started, cpu = time.monotonic(), time.process_time()
        for msg in messages:
            if msg.error() is None:
                loads(msg.value())
                seen += 1
    consumer.commit(asynchronous=False)
    result = {"events": seen, "seconds": time.monotonic() - started,
              "cpu_seconds": time.process_time() - cpu}
    consumer.close()
    return result


def quix(bootstrap: str, count: int, produce: bool = True) -> dict[str, float]:
    """Quix Streams doing the worker's job on the same events, in memory.

    Per message: decode and validate (the worker's own validator: its one-pass fast path,
    the Python checks for anything else), check the key,
    split into UTC minutes and add each minute to a per-(tenant, user, app, domain,
    minute) sum; write the span and its rollup (or the dead letter) to Kafka, one
    message each (Quix's way: a message in, messages out). At-least-once, as the worker.
    ``produce`` False: the outputs are built and encoded, not written (the job in memory).
    """
    from quixstreams import Application

    from schemas.validate import Invalid, decode, parse_valid, validate_event
    from streams.minutes import split_minutes

    app = Application(broker_address=bootstrap, consumer_group=f"quix-{uuid.uuid4()}",
                      auto_offset_reset="earliest", processing_guarantee="at-least-once",
                      loglevel="WARNING", use_changelog_topics=False,
                      state_dir=f"/tmp/quix-state-{uuid.uuid4()}")
    source = app.topic(ACTIVITY, value_deserializer="bytes", key_deserializer="bytes")
    spans = app.topic("bench.quix.spans", value_serializer="bytes")
    rollups = app.topic("bench.quix.rollups", value_serializer="bytes")
    dead = app.topic("bench.quix.deadletter", value_serializer="bytes")
    sums: defaultdict[tuple, int] = defaultdict(int)
    state = {"seen": 0, "started": 0.0, "cpu": 0.0}
    now_ms = int(time.time() * 1000)

    def job(raw: bytes, key: bytes, timestamp: int, headers: object) -> dict:
        if not state["seen"]:
            state["started"], state["cpu"] = time.monotonic(), time.process_time()
        state["seen"] += 1
        if state["seen"] >= count:
            app.stop()
        event = parse_valid(raw, now_ms)
        if event is None:
            obj = decode(raw)
            event = obj if isinstance(obj, Invalid) else validate_event(obj, now_ms)
        if not isinstance(event, Invalid) and key != event.key:
            event = Invalid("key_mismatch", "the key does not name the event's tenant/user")
        if isinstance(event, Invalid):
            return {"dead": orjson.dumps({"reason": event.reason, "detail": event.detail,
                                          "field": event.field, "payload": raw.decode()})}
        domain = event.domain
        minutes = split_minutes(event.start_ms, event.end_ms)
        for minute, ms in minutes:
            sums[(event.tenant, event.user, event.app, domain, minute)] += ms
        span = {"event_id": event.event_id, "tenant": event.tenant, "user": event.user,
                "host": event.host, "app": event.app, "exe": event.exe, "title": event.title,
                "url": event.url, "domain": domain, "start_ms": event.start_ms,
                "end_ms": event.end_ms, "idle": event.idle}
        rollup = {"event_id": event.event_id, "tenant": event.tenant, "user": event.user,
                  "host": event.host, "app": event.app, "domain": domain, "idle": event.idle,
                  "minutes": minutes}
        return {"span": orjson.dumps(span), "rollup": orjson.dumps(rollup)}

    sdf = app.dataframe(source).apply(job, metadata=True)
    if not produce:
        app.run()
        return {"events": state["seen"], "seconds": time.monotonic() - state["started"],
                "cpu_seconds": time.process_time() - state["cpu"], "keys_summed": len(sums)}
    ok = sdf.filter(lambda out: "dead" not in out)
    ok.apply(lambda out: out["span"]).to_topic(spans)
    ok.apply(lambda out: out["rollup"]).to_topic(rollups)
    sdf.filter(lambda out: "dead" in out).apply(lambda out: out["dead"]).to_topic(dead)
    app.run()
    return {"events": state["seen"], "seconds": time.monotonic() - state["started"],
            "cpu_seconds": time.process_time() - state["cpu"], "keys_summed": len(sums)}


def main() -> None:
    role, bootstrap, count, result_file = sys.argv[1:5]
    result = {"bare": bare, "quix": quix,
              "quix-memory": lambda b, n: quix(b, n, produce=False)}[role](bootstrap, int(count))
    Path(result_file).write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main()

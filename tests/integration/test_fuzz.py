"""Hostile input at volume on the raw topic: every message dead-lettered with its reason,
the worker keeps running, and the valid events in the same stream are counted exactly."""

from __future__ import annotations

import random
import time

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.procs import http_json
from schemas import topics
from tests.conftest import assert_settles, wait_for
from tests.helpers.hostile import hostile

pytestmark = pytest.mark.integration

HOSTILE, VALID = 3000, 3000


def test_hostile_messages_are_dead_lettered_and_valid_ones_counted_exactly(stack, stack_store):
    now = int(time.time() * 1000)
    rng = random.Random(5)
    bad = hostile(HOSTILE, now)
    valid = []
    for i in range(VALID):
        start = now - rng.randint(120_000, 86_400_000)
        valid.append({"schema": "deskpulse.activity.v1", "event_id": f"ok-{i}", "tenant": "fuzz",
                      "host": "pc", "user": f"u{i % 9}", "app": "code", "start_ms": start,
                      "end_ms": start + rng.randint(0, 90_000)})
    stream = [(raw, reason) for raw, reason in bad] + [(orjson.dumps(v), None) for v in valid]
    rng.shuffle(stream)

    expected: dict[tuple[int, int], str] = {}
    producer = Producer({"bootstrap.servers": stack.broker, "message.max.bytes": 2_000_000,
                         "linger.ms": 20})
    for n, (raw, reason) in enumerate(stream):
        def delivered(err, msg, reason=reason):
            assert err is None, err
            if reason is not None:
                expected[(msg.partition(), msg.offset())] = reason
        # a valid event has the key the collector sets (another one would be a key_mismatch)
        key = f"fuzz/{orjson.loads(raw)['user']}" if reason is None else str(n % 50)
        producer.produce(topics.ACTIVITY, raw, key=key.encode(), on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(60) == 0 and len(expected) == HOSTILE

    def count(sql: str) -> int:
        return int(stack_store.query(sql)[1][0][0])
    wait_for(lambda: count("SELECT count() FROM deskpulse.deadletter WHERE "
                           "topic = 'deskpulse.activity'") >= HOSTILE
             and count("SELECT count() FROM deskpulse.activity_spans WHERE tenant = 'fuzz'")
             >= VALID, timeout=180, what="every message to be stored", interval=1)

    _, rows = stack_store.query("SELECT partition, offset, reason, length(payload) "
                                "FROM deskpulse.deadletter WHERE topic = 'deskpulse.activity'")
    got = {(int(p), int(o)): reason for p, o, reason, _ in rows}
    assert got == expected, "every hostile message, with the reason it deserves"
    assert max(int(r[3]) for r in rows) <= 4096, "payloads are truncated"

    active = sum(v["end_ms"] - v["start_ms"] for v in valid) / 1000
    total = "SELECT sum(active_seconds) FROM deskpulse.activity_minutes WHERE tenant = 'fuzz'"
    assert_settles(lambda: round(stack_store.query(total)[1][0][0], 3), round(active, 3))
    status, health = http_json(f"{stack.worker_url}/health", timeout=5)
    assert status == 200 and health["ready"], "the worker kept running"
    assert health["deadlettered"] >= HOSTILE

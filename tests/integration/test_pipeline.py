"""Events produced straight to deskpulse.activity reach ClickHouse exactly (real tansu + chDB)."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from deskpulse.core.procs import http_json
from schemas import topics
from tests.conftest import assert_settles, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.brokers]

NOW = int(time.time() * 1000)
DAY = 86_400_000


def valid_events(rng: random.Random, count: int) -> list[dict]:
    users = [f"user{i}" for i in range(12)]
    apps = ["code", "firefox", "slack", "zoom", "thunderbird"]
    out = []
    for i in range(count):
        start = NOW - rng.randint(60_000, DAY)
        ev = {"schema": "deskpulse.activity.v1", "event_id": f"ev-{i}", "tenant": "acme",
              "host": f"pc-{i % 5}", "user": rng.choice(users), "app": rng.choice(apps),
              "start_ms": start, "end_ms": start + rng.randint(0, 180_000),
              "idle": rng.random() < 0.2, "seq": i}
        if ev["app"] == "firefox":
            ev["url"] = rng.choice(["https://www.github.com/a", "https://docs.python.org/3/"])
        out.append(ev)
    return out


def invalid_messages() -> list[tuple[bytes, str]]:
    def ev(**kw):
        base = {"schema": "deskpulse.activity.v1", "event_id": "bad", "tenant": "acme",
                "host": "pc-x", "user": "mallory", "app": "code",
                "start_ms": NOW - 60_000, "end_ms": NOW - 1_000}
        base.update(kw)
        return orjson.dumps({k: v for k, v in base.items() if v is not ...})

    return [
        (b"not json at all", "invalid_json"),
        (b'"a string"', "not_an_object"),
        (ev(schema="v0"), "unknown_schema"),
        (ev(user=...), "missing_field"),
        (ev(start_ms="yesterday"), "wrong_type"),
        (ev(app=""), "empty"),
        (ev(title="t" * 5000), "too_long"),
        (ev(tenant="no spaces allowed"), "bad_format"),
        (ev(seq=-5), "negative"),
        (ev(end_ms=NOW - 120_000), "end_before_start"),
        (ev(start_ms=NOW - 2 * 3_600_000), "span_too_long"),
        (ev(start_ms=NOW + 3_600_000, end_ms=NOW + 3_700_000), "in_future"),
        (ev(start_ms=NOW - 9 * DAY, end_ms=NOW - 9 * DAY + 5), "too_old"),
    ]


def expected_sums(events: list[dict]) -> dict[tuple[str, str], tuple[float, float]]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for ev in events:
        sums[(ev["user"], ev["app"])][1 if ev["idle"] else 0] += ev["end_ms"] - ev["start_ms"]
    return {k: (a / 1000, i / 1000) for k, (a, i) in sums.items() if a or i}


def stored_sums(store) -> dict[tuple[str, str], tuple[float, float]]:
    _, rows = store.query("SELECT user, app, sum(active_seconds), sum(idle_seconds) "
                          "FROM deskpulse.activity_minutes WHERE tenant = 'acme' "
                          "GROUP BY user, app")
    return {(u, a): (round(act, 3), round(idle, 3)) for u, a, act, idle in rows}


def count(store, sql: str) -> int:
    return int(store.query(sql)[1][0][0])


def test_events_duplicates_and_invalid_messages_end_exactly_in_clickhouse(stack, stack_store):
    rng = random.Random(2026)
    events = valid_events(rng, 3000)
    duplicates = rng.sample(events, 300)
    invalid = invalid_messages()

    producer = Producer({"bootstrap.servers": stack.broker, "acks": "all",
                         "enable.idempotence": True, "compression.type": "lz4",
                         "linger.ms": 20})
    for ev in events + duplicates:
        producer.produce(topics.ACTIVITY, key=f"{ev['tenant']}/{ev['user']}".encode(),
                         value=orjson.dumps(ev))
    for raw, _ in invalid:
        producer.produce(topics.ACTIVITY, key=b"acme/mallory", value=raw)
    assert producer.flush(30) == 0

    wait_for(lambda: count(stack_store, "SELECT count() FROM deskpulse.activity_spans")
             == len(events) and count(stack_store, "SELECT count() FROM deskpulse.deadletter")
             == len(invalid), timeout=120, what="all spans and dead letters stored")

    assert_settles(lambda: stored_sums(stack_store), expected_sums(events))

    _, rows = stack_store.query("SELECT reason, count(), any(user), any(topic) "
                                "FROM deskpulse.deadletter GROUP BY reason")
    assert {r[0]: r[1] for r in rows} == Counter(reason for _, reason in invalid)
    assert all(r[3] == topics.ACTIVITY for r in rows)
    assert {r[2] for r in rows if r[0] not in ("invalid_json", "not_an_object", "missing_field")} \
        == {"mallory"}
    # nothing from the invalid stream leaked into the clean tables
    assert count(stack_store, "SELECT count() FROM deskpulse.activity_spans "
                              "WHERE user = 'mallory'") == 0

    # spans carry the derived domain
    _, domains = stack_store.query("SELECT DISTINCT domain FROM deskpulse.activity_spans "
                                   "WHERE app = 'firefox' ORDER BY domain")
    assert [d[0] for d in domains] == ["docs.python.org", "github.com"]

    # worker counters agree with what was sent
    _, health = http_json(f"{stack.worker_url}/health")
    assert health["events_in"] == len(events) + len(duplicates) + len(invalid)
    assert health["duplicates"] == len(duplicates)
    assert health["deadlettered"] == len(invalid)


def test_rollups_emitted_again_are_never_double_counted(stack, stack_store):
    before = stored_sums(stack_store)
    rows_before = count(stack_store, "SELECT count() FROM deskpulse.activity_minutes")
    assert before, "the previous test must have stored data"

    consumer = Consumer({"bootstrap.servers": stack.broker, "group.id": "reemit-test",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})
    consumer.subscribe([topics.ROLLUPS])
    records = []  # messages, each holding one rollup record or an array of them
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = [(m.key(), m.value()) for m in consumer.consume(500, 2.0) if not m.error()]
        if not got and records:
            break
        records += got
    consumer.close()
    rollup_count = sum(len(v) if isinstance(v := orjson.loads(value), list) else 1
                       for _, value in records)
    assert rollup_count == 3000, "every accepted event's rollup is on the topic"

    _, sink_health = http_json(f"{stack.store_url}/health")
    consumed_before = sink_health["messages"]
    producer = Producer({"bootstrap.servers": stack.broker})
    for key, value in records:
        producer.produce(topics.ROLLUPS, key=key, value=value)
    assert producer.flush(30) == 0
    wait_for(lambda: http_json(f"{stack.store_url}/health")[1]["messages"]
             >= consumed_before + len(records), timeout=60, what="sink to read re-emitted rollups")

    assert stored_sums(stack_store) == before
    assert count(stack_store, "SELECT count() FROM deskpulse.activity_minutes") == rows_before


def test_a_late_event_updates_its_minute_instead_of_adding_a_row(stack, stack_store):
    minute_start = (NOW - 2 * DAY) // 60_000 * 60_000
    first = {"schema": "deskpulse.activity.v1", "event_id": "late-1", "tenant": "lateco",
             "host": "pc", "user": "lea", "app": "code",
             "start_ms": minute_start + 1_000, "end_ms": minute_start + 21_000}
    late = {**first, "event_id": "late-2", "start_ms": minute_start + 30_000,
            "end_ms": minute_start + 45_500}
    producer = Producer({"bootstrap.servers": stack.broker})

    def rows():
        return [tuple(r) for r in stack_store.query(
            "SELECT minute, active_seconds FROM deskpulse.activity_minutes "
            "WHERE tenant = 'lateco'")[1]]

    producer.produce(topics.ACTIVITY, key=b"lateco/lea", value=orjson.dumps(first))
    assert producer.flush(30) == 0
    wait_for(lambda: rows() and rows()[0][1] == 20.0, 60, "the first event's minute")
    producer.produce(topics.ACTIVITY, key=b"lateco/lea", value=orjson.dumps(late))
    assert producer.flush(30) == 0
    wait_for(lambda: rows() and rows()[0][1] == 35.5, 60, "the minute to be updated")
    assert len(rows()) == 1, "still one row for (tenant, user, host, app, domain, minute)"


def test_worker_metrics_for_prometheus(stack):
    import urllib.request
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert 'deskpulse_stream_outcomes_total{outcome="accepted"}' in text
    assert 'deskpulse_stream_deadletters_total{reason="too_old"} 1.0' in text
    assert 'deskpulse_stream_outcomes_total{outcome="duplicate"} 300.0' in text

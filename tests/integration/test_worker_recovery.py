"""Stream workers scale out in a consumer group and recover from kill -9 with exact totals."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.procs import Child, free_port, http_json, wait_ready
from schemas import topics
from tests.conftest import assert_settles, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.brokers]


def start_worker(stack, name: str) -> tuple[Child, str]:
    port = free_port()
    data_dir = Path(stack.data_dir)
    child = Child(name, [sys.executable, "-m", "streams.worker", "--bootstrap", stack.broker,
                         "--data-dir",
                         str(data_dir / name), "--web-port", str(port), "--loglevel", "info"],
                  data_dir / "logs" / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    return child, url


def produce(stack, tenant: str, count: int, seed: int) -> dict[str, float]:
    """``count`` events (with 10 % resent duplicates); returns expected active seconds/user."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    expected: dict[str, int] = defaultdict(int)
    producer = Producer({"bootstrap.servers": stack.broker, "linger.ms": 20})
    sent = []
    for i in range(count):
        user = f"u{rng.randrange(40)}"
        start = now - rng.randrange(120_000, 86_400_000)
        ev = {"schema": "deskpulse.activity.v1", "event_id": f"{tenant}-{i}", "tenant": tenant,
              "host": f"{user}-pc", "user": user, "app": rng.choice(["code", "zoom", "slack"]),
              "start_ms": start, "end_ms": start + rng.randrange(1, 90_000)}
        expected[user] += ev["end_ms"] - ev["start_ms"]
        sent.append(ev)
    for ev in sent + rng.sample(sent, count // 10):
        producer.produce(topics.ACTIVITY, key=f"{tenant}/{ev['user']}".encode(),
                         value=orjson.dumps(ev))
        producer.poll(0)
    assert producer.flush(60) == 0
    return {u: ms / 1000 for u, ms in expected.items()}


def stored(store, tenant: str) -> dict[str, float]:
    _, rows = store.query(f"SELECT user, sum(active_seconds) FROM deskpulse.activity_minutes "
                          f"WHERE tenant = '{tenant}' GROUP BY user")
    return {u: round(s, 3) for u, s in rows}


def assert_totals(store, tenant: str, expected: dict[str, float]) -> None:
    want = {u: round(s, 3) for u, s in expected.items()}
    assert_settles(lambda: stored(store, tenant), want, what=f"{tenant}'s minute totals")


def spans(store, tenant: str) -> int:
    return store.query(f"SELECT count() FROM deskpulse.activity_spans "
                       f"WHERE tenant = '{tenant}'")[1][0][0]


def test_two_workers_split_partitions_and_agree_with_one(stack, stack_store):
    second, url = start_worker(stack, "worker-2")
    try:
        wait_ready(second, f"{url}/health", 90)
        expected = produce(stack, "scale", 4000, seed=1)
        wait_for(lambda: spans(stack_store, "scale") == 4000, 180, "all spans stored")
        assert_totals(stack_store, "scale", expected)
        _, mine = http_json(f"{url}/health")
        _, first = http_json(f"{stack.worker_url}/health")
        assert mine["events_in"] > 0 and first["events_in"] > 0, "both workers took a share"
        assert mine["events_in"] + first["events_in"] == 4400
    finally:
        second.stop(timeout=20)


def test_kill9_of_a_worker_mid_stream_keeps_totals_exact(stack, stack_store):
    """A worker is killed with SIGKILL mid-stream; a new one takes over its partitions."""
    victim, victim_url = start_worker(stack, "worker-victim")
    try:
        wait_ready(victim, f"{victim_url}/health", 90)
        os.kill(stack.children["worker"], signal.SIGKILL)  # the victim gets every partition
        expected = produce(stack, "crash", 6000, seed=2)
        wait_for(lambda: http_json(f"{victim_url}/health")[1]["events_in"] >= 1500, 180,
                 "the victim to be mid-stream")
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait(10)
    finally:
        victim.stop(timeout=5)
    replacement, url = start_worker(stack, "worker-after")
    try:
        wait_ready(replacement, f"{url}/health", 120)
        wait_for(lambda: spans(stack_store, "crash") == 6000, 300, "all spans stored")
        assert_totals(stack_store, "crash", expected)
        assert spans(stack_store, "crash") == 6000
        _, health = http_json(f"{url}/health")
        assert health["duplicates"] >= 1, "duplicates seen before the crash were still known"
    finally:
        replacement.stop(timeout=20)

"""Stream workers in one consumer group: joining and leaving mid-stream, and the Faust app's
lifecycle (a clean stop commits, a restart resumes), on tansu and on Apache Kafka."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import defaultdict

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.procs import http_json, wait_ready
from schemas import topics
from tests.conftest import assert_settles, wait_for
from tests.integration.test_worker_recovery import spans, start_worker, stored

pytestmark = [pytest.mark.integration, pytest.mark.brokers]


class SteadyProducer(threading.Thread):
    """Produces events of ``tenant`` at about ``rate`` per second until :meth:`finish` (or
    ``limit`` events), one in ten sent twice; ``expected`` holds what was sent."""

    def __init__(self, broker: str, tenant: str, rate: int, seed: int,
                 limit: int = 100_000) -> None:
        super().__init__(name=f"producer-{tenant}", daemon=True)
        self.broker, self.tenant, self.rate, self.limit = broker, tenant, rate, limit
        self.rng = random.Random(seed)
        self.expected: dict[str, int] = defaultdict(int)
        self.sent = 0  #: distinct events
        self.error: BaseException | None = None
        self._finish = threading.Event()

    def finish(self, timeout: float = 120) -> None:
        self._finish.set()
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        assert self.error is None, self.error

    def run(self) -> None:
        try:
            producer = Producer({"bootstrap.servers": self.broker, "linger.ms": 5,
                                 "acks": "all", "enable.idempotence": True})
            now = int(time.time() * 1000)
            step = max(1, self.rate // 20)
            while not self._finish.is_set() and self.sent < self.limit:
                for _ in range(min(step, self.limit - self.sent)):
                    i = self.sent
                    user = f"u{self.rng.randrange(30)}"
                    start = now - self.rng.randrange(120_000, 86_400_000)
                    ev = {"schema": "deskpulse.activity.v1", "event_id": f"{self.tenant}-{i}",
                          "tenant": self.tenant, "host": f"{user}-pc", "user": user,
                          "app": "code", "start_ms": start,
                          "end_ms": start + self.rng.randrange(1, 90_000)}
                    self.expected[user] += ev["end_ms"] - ev["start_ms"]
                    value = orjson.dumps(ev)
                    key = f"{self.tenant}/{user}".encode()
                    for _ in range(2 if i % 10 == 0 else 1):
                        producer.produce(topics.ACTIVITY, key=key, value=value)
                    self.sent += 1
                producer.poll(0)
                time.sleep(0.05)
            assert producer.flush(60) == 0
        except BaseException as exc:  # reported by finish()
            self.error = exc

    @property
    def messages(self) -> int:
        return self.sent + (self.sent + 9) // 10

    def totals(self) -> dict[str, float]:
        return {u: round(ms / 1000, 3) for u, ms in self.expected.items()}


def events_in(url: str) -> int:
    return http_json(f"{url}/health")[1]["events_in"]


def test_workers_join_and_leave_mid_stream_and_totals_stay_exact(stack, stack_store):
    """Two more workers join the group while events flow, one leaves again: each rebalance
    hands partitions over, and every event is stored exactly once."""
    flow = SteadyProducer(stack.broker, "group", rate=1_000, seed=7)
    flow.start()
    second = third = None
    try:
        wait_for(lambda: flow.sent >= 1_000, 60, "the stream to flow")
        second, second_url = start_worker(stack, "worker-join-2")
        wait_ready(second, f"{second_url}/health", 90)
        third, third_url = start_worker(stack, "worker-join-3")
        wait_ready(third, f"{third_url}/health", 90)
        wait_for(lambda: events_in(second_url) > 0 and events_in(third_url) > 0, 60,
                 "both new workers to take partitions while the stream flows")
        assert flow.is_alive()
        assert second.stop(timeout=30) == 0, second.log_tail()  # leaves mid-stream
        before = flow.sent
        wait_for(lambda: flow.sent >= before + 1_000, 60, "the stream to go on")
        flow.finish()
        wait_for(lambda: spans(stack_store, "group") == flow.sent, 180, "all spans stored")
        assert_settles(lambda: stored(stack_store, "group"), flow.totals(),
                       what="the group's minute totals")
        assert spans(stack_store, "group") == flow.sent
        assert events_in(third_url) > 0
    finally:
        flow.finish()
        for child in (second, third):
            if child is not None:
                child.stop(timeout=20)


def test_the_faust_worker_stops_cleanly_and_a_restart_resumes_where_it_stopped(stack,
                                                                              stack_store):
    """SIGTERM: the Faust app stops (exit code 0) with every processed offset committed: the
    next worker reads nothing twice and goes on with new events."""
    import os
    first = SteadyProducer(stack.broker, "life", rate=20_000, seed=8, limit=2_000)
    first.run()
    assert first.error is None, first.error
    wait_for(lambda: spans(stack_store, "life") == 2_000, 120, "the first events stored")
    pid = stack.children["worker"]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not _alive(pid), 60, "the worker to stop after SIGTERM")

    again, url = start_worker(stack, "worker-again")
    try:
        wait_ready(again, f"{url}/health", 90)
        time.sleep(2)
        assert events_in(url) == 0, "the restarted worker read nothing that was committed"
        later = SteadyProducer(stack.broker, "life2", rate=20_000, seed=9, limit=500)
        later.run()
        assert later.error is None, later.error
        wait_for(lambda: spans(stack_store, "life2") == 500, 120, "the later events stored")
        assert_settles(lambda: stored(stack_store, "life2"), later.totals())
        assert events_in(url) == later.messages
        assert stored(stack_store, "life") == first.totals()
        assert again.stop(timeout=30) == 0, again.log_tail()
    finally:
        again.stop(timeout=20)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False

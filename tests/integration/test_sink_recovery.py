"""The sink process killed between its write and its commit, then restarted: sums unchanged."""

from __future__ import annotations

import os
import secrets
import signal
import sys

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.faults import ENV as FAULT_ENV
from deskpulse.core.procs import Child, free_port, http_json
from deskpulse.ops.embedded import sink_args, sink_env
from schemas import topics
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

MINUTE = 1_795_000_020


def rollups(n: int) -> list[bytes]:
    """``n`` records in messages of 50, as the stream worker sends them."""
    records = [{"event_id": f"k{i}", "tenant": "acme", "user": f"u{i % 5}", "host": "h",
                "app": "code", "domain": "", "idle": False,
                "minutes": [[MINUTE + 60 * (i % 20), 1000 + i]]} for i in range(n)]
    return [orjson.dumps(records[i:i + 50]) for i in range(0, n, 50)]


def start_sink(tmp_path, bootstrap: str, port: int, token: str, fault: str | None) -> Child:
    env = {**os.environ, FAULT_ENV: fault} if fault else None
    return Child("sink", [sys.executable, "-m", "sinks.main", *sink_args(
        bootstrap, f"chdb://{tmp_path / 'store'}", port)], tmp_path / "sink.log",
                 env=sink_env(token, base=env))


def test_sink_killed_between_write_and_commit_loses_and_doubles_nothing(broker, tmp_path):
    n = 1000
    producer = Producer({"bootstrap.servers": broker})
    for value in rollups(n):
        producer.produce(topics.ROLLUPS, value, partition=0)
    assert producer.flush(30) == 0
    port, token = free_port(), secrets.token_urlsafe(16)

    doomed = start_sink(tmp_path, broker, port, token, fault="sink.after_write")
    wait_for(lambda: not doomed.alive(), timeout=120, what="the sink to hit its fault point")
    assert doomed.proc.returncode == -signal.SIGKILL
    assert "fault injection: SIGKILL at sink.after_write" in doomed.log_tail(50)

    sink = start_sink(tmp_path, broker, port, token, fault=None)
    try:
        def committed() -> bool:
            try:
                _, body = http_json(f"http://127.0.0.1:{port}/health", timeout=2)
            except OSError:
                return False
            return isinstance(body, dict) and body.get("messages", 0) >= n // 50
        wait_for(committed, timeout=120, what="the restarted sink to commit everything")

        def query(sql: str) -> list:
            status, body = http_json(f"http://127.0.0.1:{port}/query", timeout=60,
                                     body=orjson.dumps({"sql": sql}), token=token)
            assert status == 200, body
            return body["rows"]
        [[written]] = query("SELECT count() FROM deskpulse.minutes_store")
        [[active, rows]] = query("SELECT sum(active_seconds), count() "
                                 "FROM deskpulse.activity_minutes")
        assert round(active, 3) == sum(1000 + i for i in range(n)) / 1000
        groups = len({(i % 5, i % 20) for i in range(n)})
        assert rows == groups and written >= n, "every record stored, the re-read batch collapsed"
    finally:
        sink.stop(timeout=30)

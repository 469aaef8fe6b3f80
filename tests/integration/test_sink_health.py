"""The sink's health and lag while its writes fail (real tansu, a real sink process, chDB).

A sink whose writes fail holds what it read in memory, unwritten and uncommitted. Its
lag used to be measured from the read position, so it read 0 while nothing was being
stored (first found with the store on a full disk). The lag now counts messages read
but not written, and ``/health`` says that writes fail, with the last error and its age.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

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


def produce(bootstrap: str, tag: str, messages: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for m in range(messages):
        records = [{"event_id": f"{tag}-{m}-{i}", "tenant": "health", "user": f"u{i % 3}",
                    "host": "h", "app": "code", "domain": "", "idle": False,
                    "minutes": [[MINUTE + 60 * i, 1000]]} for i in range(20)]
        producer.produce(topics.ROLLUPS, orjson.dumps(records), partition=m % 2)
    assert producer.flush(30) == 0


class Sink:
    def __init__(self, tmp: Path, bootstrap: str, store: Path, fault: str | None = None) -> None:
        self.port, self.token = free_port(), secrets.token_urlsafe(16)
        base = {**os.environ, FAULT_ENV: fault} if fault else dict(os.environ)
        self.child = Child("sink", [sys.executable, "-m", "sinks.main", *sink_args(
            bootstrap, f"chdb://{store}", self.port), "--loglevel", "INFO"],
            tmp / f"sink-{self.port}.log", env=sink_env(self.token, base=base))

    def health(self) -> dict:
        try:
            return http_json(f"http://127.0.0.1:{self.port}/health", timeout=3)[1]  # type: ignore
        except OSError:
            return {}

    def metrics(self) -> dict[str, float]:
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=3) as r:
            return {k: float(v) for k, v in (line.split() for line in r.read().decode()
                                             .splitlines() if line)}

    def stored(self, tag: str, messages: int) -> int:
        """Minute rows of the events ``produce(tag, messages)`` sent (keyed by a hash of the id)."""
        ids = (f"SELECT sipHash64(concat('{tag}-', toString(intDiv(number, 20)), '-', "
               f"toString(number % 20))) FROM (SELECT arrayJoin(range({messages * 20})) AS number)")
        sql = f"SELECT count() FROM deskpulse.minutes_store WHERE event_key IN ({ids})"
        status, body = http_json(f"http://127.0.0.1:{self.port}/query", timeout=60,
                                 token=self.token, body=orjson.dumps({"sql": sql}))
        assert status == 200, body
        return body["rows"][0][0]  # type: ignore[index]


def failing_and_behind(sink: Sink, messages: int) -> dict | None:
    h = sink.health()
    if h.get("write_failures", 0) > 0 and h.get("lag") == messages:
        return h
    return None


def test_lag_and_health_while_every_write_fails(broker, tmp_path):
    messages = 12
    produce(broker, "fault", messages)
    sink = Sink(tmp_path, broker, tmp_path / "store", fault="sink.write=25")
    try:
        h = wait_for(lambda: failing_and_behind(sink, messages), timeout=60,
                     what="the sink to report its unwritten messages as lag")
        assert h["ready"] is False and h["writing"] is False and h["unwritten"] == messages
        assert "fault injection" in h["last_error"] and h["last_error_age_s"] >= 0
        metrics = sink.metrics()
        assert metrics["deskpulse_sink_lag"] == messages
        assert metrics["deskpulse_sink_unwritten"] == messages
        assert metrics["deskpulse_sink_writing"] == 0
        wait_for(lambda: sink.health().get("ready") and sink.health().get("lag") == 0,
                 timeout=90, what="the sink to write and catch up after the window")
        assert sink.stored("fault", messages) == messages * 20
        after = sink.health()
        assert after["unwritten"] == 0 and after["last_error_age_s"] is not None
    finally:
        sink.child.stop(timeout=30)


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int):
    """A tmpfs of its own (root only); unmounted afterwards."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                           str(path)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * (1 << 20))
            fh.flush()
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_lag_and_health_on_a_real_full_disk(broker, tmp_path):
    with small_disk(tmp_path / "disk", 64) as disk:
        sink = Sink(tmp_path, broker, disk / "store")
        try:
            wait_for(lambda: sink.health().get("ready"), timeout=60, what="the sink ready")
            filler = fill(disk)
            messages = 10
            produce(broker, "full", messages)
            h = wait_for(lambda: failing_and_behind(sink, messages), timeout=60,
                         what="the sink to report its unwritten messages on the full disk")
            assert h["ready"] is False and "space" in h["last_error"].lower(), h
            assert sink.metrics()["deskpulse_sink_lag"] == messages
            filler.unlink()
            wait_for(lambda: sink.health().get("ready") and sink.health().get("lag") == 0,
                     timeout=90, what="the sink to write once there is space again")
            assert sink.stored("full", messages) == messages * 20
        finally:
            sink.child.stop(timeout=30)

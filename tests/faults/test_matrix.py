"""The fault matrix: a fleet producing continuously, every fault, then the ledger.

Each fault hits a pipeline that keeps running, one after the other:

1. a collector killed with SIGKILL, then restarted on its spool;
2. the broker unreachable (SIGSTOP, then SIGCONT) while collectors spool;
3. the stream worker killed with SIGKILL, then restarted;
4. the sink killed with SIGKILL between its write and its commit, then restarted;
5. every ClickHouse write failing for a while;
6. a burst at ten times the fleet's rate.

Then the ledger: every event each collector ever spooled is in ClickHouse exactly
once (its span once, and its user's minutes add up to the durations, to the ms), in
the hourly and daily views too, and in the aggregate tables ``hours_agg`` and
``days_agg`` once the sink has refreshed them.

`make test` runs it small (CI); `make faults` runs it at full size
(FAULTS_SCALE=full: 2-minute outage, a minute of failing writes).
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

import orjson
import pytest

from collector.spool import Spool
from deskpulse.core.faults import ENV as FAULT_ENV
from deskpulse.core.procs import Child, free_port, http_json
from deskpulse.ops.broker import start_broker
from deskpulse.ops.embedded import sink_args, sink_env
from tests.conftest import assert_settles, wait_for
from tests.faults.fleet import duration_ms

pytestmark = pytest.mark.integration

FULL = os.environ.get("FAULTS_SCALE") == "full"
PHASE_S = 20.0 if FULL else 6.0
OUTAGE_S = 120.0 if FULL else 12.0
WRITE_FAILURES_S = 60.0 if FULL else 10.0
RATE = 20.0  # events/s per collector
COLLECTORS = 3


class Pipeline:
    def __init__(self, tmp: Path, bootstrap: str | None = None) -> None:
        """On a tansu broker of its own, or on the running brokers at ``bootstrap``."""
        self.tmp = tmp
        self.bootstrap = bootstrap or f"127.0.0.1:{free_port()}"
        self.broker = None if bootstrap else start_broker(self.bootstrap, tmp / "broker.log",
                                                          partitions=4)
        self.web, self.store_port = free_port(), free_port()
        self.token = secrets.token_urlsafe(16)
        self.worker = self.sink = None
        self.fleet: dict[int, Child] = {}
        self.stop_file = tmp / "stop"

    def start_worker(self) -> None:
        self.worker = Child("worker", [sys.executable, "-m", "streams.worker", "--bootstrap",
                                       self.bootstrap, "--data-dir",
                                       str(self.tmp / "w"), "--web-port", str(self.web)],
                            self.tmp / "worker.log")

    def start_sink(self, fault: str | None = None) -> None:
        env = {**os.environ, FAULT_ENV: fault} if fault else None
        self.sink = Child("sink", [sys.executable, "-m", "sinks.main", *sink_args(
            self.bootstrap, f"chdb://{self.tmp / 'store'}", self.store_port)],
                          self.tmp / "sink.log", env=sink_env(self.token, base=env))

    def start_collector(self, n: int, rate: float = RATE) -> None:
        self.fleet[n] = Child(f"collector-{n}", [
            sys.executable, "-m", "tests.faults.fleet", "--bootstrap", self.bootstrap,
            "--spool", str(self.spool(n)), "--collector", str(n), "--rate", str(rate),
            "--stop-file", str(self.stop_file)], self.tmp / f"collector-{n}.log")

    def spool(self, n: int) -> Path:
        return self.tmp / f"spool-{n}.db"

    def kill9(self, child: Child) -> None:
        os.kill(child.pid, signal.SIGKILL)
        child.proc.wait(10)

    def query(self, sql: str) -> list:
        status, body = http_json(f"http://127.0.0.1:{self.store_port}/query", timeout=60,
                                 body=orjson.dumps({"sql": sql}), token=self.token)
        assert status == 200, body
        return body["rows"]

    def healthy(self, url: str) -> bool:
        try:
            return http_json(url, timeout=2)[0] == 200
        except OSError:
            return False

    def start_running(self) -> None:
        """Sink, worker (until healthy) and the collectors, then one phase of traffic."""
        self.start_sink()
        self.start_worker()
        wait_for(lambda: self.healthy(f"http://127.0.0.1:{self.web}/health"), 120, "the worker")
        for n in range(COLLECTORS):
            self.start_collector(n)
        time.sleep(PHASE_S)

    def stop(self) -> None:
        self.stop_file.touch()
        for child in [*self.fleet.values(), self.worker, self.sink, self.broker]:
            if child is not None:
                child.stop(timeout=20)


def test_every_event_exactly_once_through_every_fault(tmp_path):
    p = Pipeline(tmp_path)
    try:
        p.start_running()

        p.kill9(p.fleet[0])                       # 1. collector kill -9
        time.sleep(1)
        p.start_collector(0)
        time.sleep(PHASE_S)

        os.kill(p.broker.pid, signal.SIGSTOP)     # 2. broker unreachable
        time.sleep(OUTAGE_S)
        os.kill(p.broker.pid, signal.SIGCONT)
        time.sleep(PHASE_S)

        p.kill9(p.worker)                         # 3. stream worker kill -9
        p.start_worker()
        time.sleep(PHASE_S)

        p.kill9(p.sink)                           # 4. sink kill -9 between write and commit
        p.start_sink(fault="sink.after_write")
        wait_for(lambda: not p.sink.alive(), 120, "the sink to die after its write")
        assert p.sink.proc.returncode == -signal.SIGKILL
        p.start_sink()
        time.sleep(PHASE_S)

        p.kill9(p.sink)                           # 5. ClickHouse writes failing
        p.start_sink(fault=f"sink.write={WRITE_FAILURES_S}")
        time.sleep(WRITE_FAILURES_S + PHASE_S)

        p.start_collector(COLLECTORS, rate=RATE * COLLECTORS * 10)  # 6. a 10x burst
        time.sleep(PHASE_S)

        assert_ledger(p)
    finally:
        p.stop()


def assert_ledger(p: Pipeline) -> None:
    """Collectors drain their spools; then every event each ever spooled is in ClickHouse
    exactly once: its span once, and its user's minutes add up to the durations, to the ms."""
    p.stop_file.touch()                       # collectors send what they spooled, exit
    for n, child in p.fleet.items():
        wait_for(lambda c=child: not c.alive(), 360, f"collector {n} to drain")
        assert child.proc.returncode == 0, child.log_tail()

    expected: dict[str, int] = {}
    per_user: dict[str, int] = {}
    for n in p.fleet:
        spool = Spool(p.spool(n))
        made, left = spool.next_seq, len(spool)
        spool.close()
        assert left == 0, f"collector {n} kept {left} unsent events"
        for seq in range(made):
            expected[f"c{n}-{seq}"] = duration_ms(seq)
        per_user[f"u{n}"] = sum(duration_ms(s) for s in range(made))
    assert len(expected) > COLLECTORS * RATE * PHASE_S

    def stored() -> int:
        return int(p.query("SELECT uniqExact(event_id) FROM deskpulse.spans_store "
                           "WHERE tenant = 'faults'")[0][0])
    wait_for(lambda: stored() >= len(expected), 600, "every event in ClickHouse",
             interval=2)
    time.sleep(3)  # anything extra that would arrive has arrived

    spans = p.query("SELECT event_id, count(), sum(dateDiff('millisecond', start, end)) "
                    "FROM deskpulse.activity_spans WHERE tenant = 'faults' "
                    "GROUP BY event_id")
    got = {eid: ms for eid, n, ms in spans}
    assert all(n == 1 for _, n, _ in spans), "one span per event"
    assert set(got) == set(expected), (
        f"lost {len(set(expected) - set(got))}, unknown {len(set(got) - set(expected))}")
    assert got == expected
    # the rollups travel on their own topic and are written in their own batches: after a
    # sink crash or a write outage they may land well after the spans, so wait for them
    for view in ("activity_minutes", "activity_hourly", "activity_daily"):
        assert_settles(lambda view=view: dict(p.query(
            "SELECT user, toInt64(round(sum(active_seconds + idle_seconds) * 1000)) "
            f"FROM deskpulse.{view} WHERE tenant = 'faults' GROUP BY user")),
            per_user, timeout=300, what=f"{view}: every event counted exactly once")

    # the sink refreshes the aggregates between batches: once no hour is dirty, the
    # aggregate tables alone hold every event exactly once
    def dirty() -> int:
        return int(p.query("SELECT count() FROM deskpulse.rollup_dirty "
                           "WHERE tenant = 'faults'")[0][0])
    wait_for(lambda: dirty() == 0, 120, "the aggregates refreshed", interval=1)
    for table in ("hours_agg", "days_agg"):
        totals = dict(p.query("SELECT user, toInt64(sum(active_ms + idle_ms)) "
                              f"FROM deskpulse.{table} WHERE tenant = 'faults' "
                              "GROUP BY user"))
        assert totals == per_user, f"{table} holds every event exactly once"

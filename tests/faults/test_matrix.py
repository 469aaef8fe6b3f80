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

import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from collector.spool import Spool
from deskpulse.core.faults import ENV as FAULT_ENV
from deskpulse.core.procs import Child, free_port, http_json
from deskpulse.ops.broker import start_broker
from deskpulse.ops.embedded import sink_args, sink_env
from schemas import topics
from tests.conftest import assert_settles, wait_for
from tests.faults.fleet import duration_ms
from tests.faults.ledger import Budget, describe_missing, log_tail, missing_by_collector

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

FULL = os.environ.get("FAULTS_SCALE") == "full"
PHASE_S = 20.0 if FULL else 6.0
OUTAGE_S = 120.0 if FULL else 12.0
WRITE_FAILURES_S = 60.0 if FULL else 10.0
RATE = 20.0  # events/s per collector
COLLECTORS = 3
#: the matrix's budget (pytest-timeout): its faults take about 1.5 min small and 6 min full;
#: then the drain and the ledger
MATRIX_TIMEOUT_S = 1500 if FULL else 600
#: what the report of missing events may take (a read of the topics, the groups' offsets)
REPORT_S = 60.0


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

    def start_running(self, budget: Budget) -> None:
        """Sink, worker (until healthy) and the collectors, then one phase of traffic."""
        self.start_sink()
        self.start_worker()
        wait_for(lambda: self.healthy(f"http://127.0.0.1:{self.web}/health"),
                 budget.left(120), "the worker")
        budget.mark("start-up")
        for n in range(COLLECTORS):
            self.start_collector(n)
        time.sleep(PHASE_S)

    def report_missing(self, expected: dict[str, int], made: dict[int, int]) -> str:
        """Which events are not in ClickHouse and where they are: see :func:`assert_ledger`."""
        stored = [eid for (eid,) in self.query(
            "SELECT DISTINCT event_id FROM deskpulse.spans_store WHERE tenant = 'faults'")]
        missing, _ = missing_by_collector(expected, stored)
        lost = {f"c{n}-{seq}" for n, seqs in missing.items() for seq in seqs}
        lines = [describe_missing(expected, stored, made)]
        for topic, ids in ((topics.ACTIVITY, _event_ids), (topics.SPANS, _span_event_ids)):
            found = _read_topic(self.bootstrap, topic, lambda v, ids=ids: ids(v) & lost)
            lines.append(f"  of those, in {topic}: {found}")
        lines += [f"  {_group_offsets(self.bootstrap, group, names)}" for group, names in (
            ("deskpulse-streams", [topics.ACTIVITY]),
            ("deskpulse-sink", [topics.SPANS, topics.ROLLUPS, topics.DEADLETTER]))]
        for name, url in (("worker", f"http://127.0.0.1:{self.web}/health"),
                          ("sink", f"http://127.0.0.1:{self.store_port}/health")):
            try:
                lines.append(f"  {name} /health: {http_json(url, timeout=5)}")
            except OSError as exc:
                lines.append(f"  {name} /health: {exc!r}")
        for child in (self.worker, self.sink):
            if child is not None:
                lines.append(f"--- {child.name} log (alive: {child.alive()}), without "
                             f"librdkafka's connection chatter:\n"
                             f"{log_tail(child.log_path.read_text(errors='replace'))}")
        return "\n".join(lines)

    def stop(self) -> None:
        self.stop_file.touch()
        for child in [*self.fleet.values(), self.worker, self.sink, self.broker]:
            if child is not None:
                child.stop(timeout=20)


@pytest.mark.timeout(MATRIX_TIMEOUT_S)
def test_every_event_exactly_once_through_every_fault(budget, tmp_path):
    p = Pipeline(tmp_path)
    try:
        p.start_running(budget)

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
        wait_for(lambda: not p.sink.alive(), budget.left(120),
                 "the sink to die after its write")
        assert p.sink.proc.returncode == -signal.SIGKILL
        p.start_sink()
        time.sleep(PHASE_S)

        p.kill9(p.sink)                           # 5. ClickHouse writes failing
        p.start_sink(fault=f"sink.write={WRITE_FAILURES_S}")
        time.sleep(WRITE_FAILURES_S + PHASE_S)

        p.start_collector(COLLECTORS, rate=RATE * COLLECTORS * 10)  # 6. a 10x burst
        time.sleep(PHASE_S)
        budget.mark("faults")

        assert_ledger(p, budget)
    finally:
        p.stop()


def _event_ids(value: bytes) -> set[str]:
    return {orjson.loads(value)["event_id"]}


def _span_event_ids(value: bytes) -> set[str]:
    return {span["event_id"] for span in orjson.loads(value)}


def _read_topic(bootstrap: str, topic: str, pick, timeout: float = 20.0) -> str:
    """How many of the ids ``pick(value)`` returns the topic holds, read to its end."""
    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": f"ledger-{secrets.token_hex(4)}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, n, OFFSET_BEGINNING) for n in parts])
        found: set[str] = set()
        ends: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(ends) < len(parts) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    ends.add(msg.partition())  # the end of a partition (or an error there)
                else:
                    found |= pick(msg.value())
        done = "" if len(ends) == len(parts) else f" (read {len(ends)} of {len(parts)} " \
                                                  f"partitions to their end in {timeout:.0f}s)"
        return f"{len(found)}{done}"
    except KafkaException as exc:
        return f"not readable: {exc}"
    finally:
        consumer.close()


def _group_offsets(bootstrap: str, group: str, names: list[str]) -> str:
    """Per partition, the group's committed offset and the high watermark (where behind)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(timeout=10).topics
        parts = [TopicPartition(t, n) for t in names for n in meta[t].partitions]
        behind = []
        for tp in consumer.committed(parts, timeout=10):
            high = consumer.get_watermark_offsets(tp, timeout=10)[1]
            if tp.offset < 0 < high:
                behind.append(f"{tp.topic}[{tp.partition}] nothing committed of {high}")
            elif 0 <= tp.offset < high:
                behind.append(f"{tp.topic}[{tp.partition}] at {tp.offset} of {high}")
        return f"group {group}: " + (", ".join(behind) or "committed up to every end")
    except KafkaException as exc:
        return f"group {group}: offsets not available: {exc}"
    finally:
        consumer.close()


def assert_ledger(p: Pipeline, budget: Budget) -> None:
    """Collectors drain their spools; then every event each ever spooled is in ClickHouse
    exactly once: its span once, and its user's minutes add up to the durations, to the ms.

    Every wait fits in ``budget``; if the events do not all arrive in time, the failure
    says which are missing (per collector, as seq ranges), where they are (still in the
    activity topic, in the spans topic, in neither), where the worker's and the sink's
    consumer groups stand, and the tails of their logs."""
    p.stop_file.touch()                       # collectors send what they spooled, exit
    for n, child in p.fleet.items():
        wait_for(lambda c=child: not c.alive(), budget.left(360, keep=REPORT_S),
                 f"collector {n} to drain")
        assert child.proc.returncode == 0, child.log_tail()
    budget.mark("collectors drained")

    expected: dict[str, int] = {}
    per_user: dict[str, int] = {}
    made_by: dict[int, int] = {}
    for n in p.fleet:
        spool = Spool(p.spool(n))
        made, left = spool.next_seq, len(spool)
        spool.close()
        assert left == 0, f"collector {n} kept {left} unsent events"
        made_by[n] = made
        for seq in range(made):
            expected[f"c{n}-{seq}"] = duration_ms(seq)
        per_user[f"u{n}"] = sum(duration_ms(s) for s in range(made))
    assert len(expected) > COLLECTORS * RATE * PHASE_S

    def stored() -> int:
        return int(p.query("SELECT uniqExact(event_id) FROM deskpulse.spans_store "
                           "WHERE tenant = 'faults'")[0][0])
    waited = time.monotonic()
    deadline = waited + budget.left(600, keep=REPORT_S)
    count = stored()
    while count < len(expected) and time.monotonic() < deadline:
        time.sleep(2)
        count = stored()
    if count < len(expected):
        pytest.fail(f"after {time.monotonic() - waited:.0f}s, {count} of {len(expected)} "
                    f"events in ClickHouse; {budget.spent()}:\n"
                    f"{p.report_missing(expected, made_by)}")
    budget.mark("every event in ClickHouse")
    time.sleep(3)  # anything extra that would arrive has arrived

    spans = p.query("SELECT event_id, count(), sum(dateDiff('millisecond', start, end)) "
                    "FROM deskpulse.activity_spans WHERE tenant = 'faults' "
                    "GROUP BY event_id")
    got = {eid: ms for eid, n, ms in spans}
    assert all(n == 1 for _, n, _ in spans), "one span per event"
    assert set(got) == set(expected), describe_missing(expected, got, made_by)
    assert got == expected
    # the rollups travel on their own topic and are written in their own batches: after a
    # sink crash or a write outage they may land well after the spans, so wait for them
    for view in ("activity_minutes", "activity_hourly", "activity_daily"):
        assert_settles(lambda view=view: dict(p.query(
            "SELECT user, toInt64(round(sum(active_seconds + idle_seconds) * 1000)) "
            f"FROM deskpulse.{view} WHERE tenant = 'faults' GROUP BY user")),
            per_user, timeout=budget.left(300),
            what=f"{view}: every event counted exactly once")

    # the sink refreshes the aggregates between batches: once no hour is dirty, the
    # aggregate tables alone hold every event exactly once
    def dirty() -> int:
        return int(p.query("SELECT count() FROM deskpulse.rollup_dirty "
                           "WHERE tenant = 'faults'")[0][0])
    wait_for(lambda: dirty() == 0, budget.left(120), "the aggregates refreshed", interval=1)
    for table in ("hours_agg", "days_agg"):
        totals = dict(p.query("SELECT user, toInt64(sum(active_ms + idle_ms)) "
                              f"FROM deskpulse.{table} WHERE tenant = 'faults' "
                              "GROUP BY user"))
        assert totals == per_user, f"{table} holds every event exactly once"
    logger.info("ledger kept: %s", budget.spent())


@pytest.mark.timeout(150)
def test_the_ledger_names_the_missing_events_and_where_they_are(budget, tmp_path):
    """The ledger's own failure, within its budget: five events collector 1 counted but
    never sent (its spool's next_seq moved past them by hand) are named by collector and
    seq range, found in no topic, with the consumer groups, /health and the logs."""
    p = Pipeline(tmp_path)
    try:
        p.start_running(budget)
        time.sleep(PHASE_S)  # the ledger wants more than a phase of events
        p.stop_file.touch()
        for n, child in p.fleet.items():
            wait_for(lambda c=child: not c.alive(), budget.left(60), f"collector {n} to drain")
        made = {}
        for n in p.fleet:
            spool = Spool(p.spool(n))
            made[n] = spool.next_seq
            spool.close()
        wait_for(lambda: p.query("SELECT uniqExact(event_id) FROM deskpulse.spans_store "
                                 "WHERE tenant = 'faults'")[0][0] == sum(made.values()),
                 budget.left(60), "the events sent in ClickHouse")
        spool = Spool(p.spool(1))
        spool.set_meta("next_seq", made[1] + 5)
        spool.close()

        with pytest.raises(pytest.fail.Exception) as failed:
            assert_ledger(p, budget)
        report = str(failed.value)
        assert f"5 of {sum(made.values()) + 5} events not in ClickHouse, 0 unknown" in report
        assert f"collector 1: 5 of {made[1] + 5} missing, seq {made[1]}-{made[1] + 4}\n" \
            in report
        assert "collector 0:" not in report and "collector 2:" not in report
        assert f"of those, in {topics.ACTIVITY}: 0\n" in report
        assert f"of those, in {topics.SPANS}: 0\n" in report
        assert "group deskpulse-streams: committed up to every end\n" in report
        assert "group deskpulse-sink: " in report
        assert "worker /health: (200, {" in report and "sink /health: (200, {" in report
        assert "of the 150s budget (start-up " in report
        assert "--- worker log (alive: True)" in report and "--- sink log (alive: True)" in report
    finally:
        p.stop()

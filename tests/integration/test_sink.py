"""The sink loop against real tansu and chDB (in this process): replay and failing writes."""

from __future__ import annotations

import threading

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.errors import StoreUnavailable
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from sinks import migrate
from sinks import rollup as rollups
from sinks.batch import Batch
from sinks.loop import SinkLoop, SinkSettings
from sinks.writer import ClickHouseWriter, ClientStore
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

MINUTE = 1_795_000_020  # an epoch second on a minute boundary


def rollup(i: int) -> bytes:
    return orjson.dumps({"event_id": f"e{i}", "tenant": "acme", "user": f"u{i % 7}",
                         "host": "h", "app": ["code", "zoom"][i % 2], "domain": "",
                         "idle": i % 5 == 0,
                         "minutes": [[MINUTE + 60 * (i % 30), 1000 + i], [MINUTE + 60 * 31, 7]]})


def produce(bootstrap: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        producer.produce(topics.ROLLUPS, key=f"acme/u{i % 7}".encode(), value=rollup(i))
    producer.produce(topics.SPANS, key=b"acme/u0", value=b"\x00 poison \xff")
    assert producer.flush(30) == 0


def run_loop(bootstrap: str, writer, group: str, until, refresher=None) -> SinkLoop:
    loop = SinkLoop(KafkaSettings(bootstrap=bootstrap), writer,
                    SinkSettings(group_id=group, max_bytes=20_000, max_age_s=0.2,
                                 backoff_initial_s=0.05, backoff_max_s=0.2, lag_every_s=0.05,
                                 refresh_every_s=0.1), refresher=refresher)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: until(loop), timeout=90, what=f"sink group {group}")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    return loop


def totals(chdb) -> tuple:
    return chdb.query("SELECT count(), sum(active_seconds), sum(idle_seconds) "
                      "FROM deskpulse.activity_minutes").result_rows[0]


def rollup_views_agree(chdb) -> tuple:
    """(active, idle) seconds of activity_hourly and activity_daily, equal to the minutes'."""
    sums = [chdb.query(f"SELECT round(sum(active_seconds), 3), round(sum(idle_seconds), 3) "
                       f"FROM deskpulse.{view}").result_rows[0]
            for view in ("activity_minutes", "activity_hourly", "activity_daily")]
    assert sums[0] == sums[1] == sums[2], sums
    return sums[0]


def aggregates(chdb) -> tuple:
    """(active, idle) seconds in hours_agg and days_agg alone, once nothing is dirty."""
    assert chdb.query("SELECT count() FROM deskpulse.rollup_dirty").result_rows[0][0] == 0
    sums = [chdb.query(f"SELECT sum(active_ms) / 1000, sum(idle_ms) / 1000 "
                       f"FROM deskpulse.{table}").result_rows[0]
            for table in ("hours_agg", "days_agg")]
    assert sums[0] == sums[1], sums
    return sums[0]


def refreshed(chdb) -> bool:
    return chdb.query("SELECT count() FROM deskpulse.rollup_dirty").result_rows[0][0] == 0


def expected(n: int) -> tuple[float, float]:
    active = sum(1000 + i + 7 for i in range(n) if i % 5) / 1000
    idle = sum(1000 + i + 7 for i in range(n) if not i % 5) / 1000
    return active, idle


class FlakyWriter:
    """The real writer, refusing its first ``failures`` writes as an unreachable store would."""

    def __init__(self, inner, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def write(self, *args) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreUnavailable("store unreachable (injected)")
        self.inner.write(*args)


def test_replay_from_offset_zero_changes_nothing_and_failing_writes_lose_nothing(broker, chdb):
    n = 2000
    produce(broker, n)
    flaky = FlakyWriter(ClickHouseWriter(chdb), failures=4)
    lags: list[int] = []

    def drained(lp: SinkLoop) -> bool:
        lags.append(lp.state.lag)
        return lp.state.messages >= n + 1 and lp.state.lag == 0 and refreshed(chdb)

    def refresher():
        return rollups.refresh(ClientStore(chdb))
    first = run_loop(broker, flaky, "sink-a", drained, refresher)
    assert first.state.write_failures == 4
    assert max(lags) > 0 and lags[-1] == 0, "lag reported while writes failed, then drained"
    assert first.state.poisoned == 1
    rows, active, idle = totals(chdb)
    assert (round(active, 3), round(idle, 3)) == expected(n)
    assert rollup_views_agree(chdb) == expected(n)
    assert aggregates(chdb) == expected(n), "the loop refreshed the aggregates"
    assert rows == chdb.query("SELECT uniqExact(tenant, user, host, app, domain, minute) "
                              "FROM deskpulse.minutes_store").result_rows[0][0]
    dl = chdb.query("SELECT reason, topic FROM deskpulse.deadletter").result_rows
    assert dl == [("sink_undecodable", topics.SPANS)]

    # a new consumer group reads every partition again from offset 0
    run_loop(broker, ClickHouseWriter(chdb), "sink-replay",
             lambda lp: lp.state.messages >= n + 1 and refreshed(chdb), refresher)
    assert totals(chdb) == (rows, active, idle)
    assert rollup_views_agree(chdb) == expected(n), "replayed hours and days count once"
    assert aggregates(chdb) == expected(n), "the aggregates alone, after the replay's refresh"
    assert chdb.query("SELECT count() FROM deskpulse.deadletter").result_rows[0][0] == 1


def test_migrations_applied_twice_change_nothing(chdb):
    tables = chdb.query("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                        "ORDER BY name").result_rows
    assert migrate.apply(ClientStore(chdb)) == []
    assert chdb.query("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                      "ORDER BY name").result_rows == tables
    assert chdb.query("SELECT count() FROM deskpulse.schema_migrations").result_rows[0][0] == \
        len(migrate.load_migrations())


def test_a_record_twice_in_one_insert_block_counts_once_in_every_view(chdb):
    """The writer inserts without the engine collapsing the block (``optimize_on_insert``
    0, issue 21): both copies reach the ReplacingMergeTree stores, and every analyst view
    still counts the record once (they read the stores with FINAL), also after a refresh."""
    span = orjson.dumps([{"event_id": "twice", "tenant": "acme", "user": "u1", "host": "h",
                          "app": "code", "exe": "/usr/bin/code", "title": "t", "url": "",
                          "domain": "", "start_ms": MINUTE * 1000,
                          "end_ms": MINUTE * 1000 + 90_000,
                          "idle": False, "category": "development", "productivity": "productive"}])
    record = orjson.loads(rollup(3))
    record["event_id"], record["user"] = "twice", "u-twice"
    twice = orjson.dumps([record, record])  # one message holding the record twice
    batch = Batch()
    batch.add(topics.SPANS, 0, 0, span)
    batch.add(topics.SPANS, 0, 1, span)
    batch.add(topics.ROLLUPS, 0, 0, twice)
    batch.add(topics.ROLLUPS, 0, 1, orjson.dumps(record))
    writer = ClickHouseWriter(chdb)
    for table, body, token in batch.writes():
        writer.write(table, body, token)

    def one(sql: str):
        return chdb.query(sql).result_rows[0]
    assert one("SELECT count() FROM deskpulse.spans_store WHERE event_id = 'twice'") == (2,), \
        "the engine collapsed the insert block (optimize_on_insert is on)"
    assert one("SELECT count() FROM deskpulse.minutes_store "
               "WHERE event_key = sipHash64('twice')") == (6,)
    assert one("SELECT count() FROM deskpulse.activity_spans WHERE event_id = 'twice'") == (1,)
    expected_minutes = (2, round((1003 + 7) / 1000, 3), 0)
    assert one("SELECT count(), round(sum(active_seconds), 3), sum(idle_seconds) "
               "FROM deskpulse.activity_minutes WHERE user = 'u-twice'") == expected_minutes
    for view in ("activity_hourly", "activity_daily"):
        assert one(f"SELECT round(sum(active_seconds), 3) FROM deskpulse.{view} "
                   f"WHERE user = 'u-twice'") == (expected_minutes[1],), view
    rollups.refresh(ClientStore(chdb))
    for view in ("activity_hourly", "activity_daily"):
        assert one(f"SELECT round(sum(active_seconds), 3) FROM deskpulse.{view} "
                   f"WHERE user = 'u-twice'") == (expected_minutes[1],), f"{view} after a refresh"

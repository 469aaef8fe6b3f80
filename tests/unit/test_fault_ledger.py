"""The fault tests' ledger helpers (tests/faults/ledger.py): the budget and the report of
missing events."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from schemas.topics import ALL_TOPICS
from tests.faults.ledger import Budget, describe_missing, log_tail, seq_ranges
from tests.faults.test_kafka_cluster import partitions, replicated


def test_seq_ranges_are_the_consecutive_runs() -> None:
    assert seq_ranges([]) == []
    assert seq_ranges([7]) == [(7, 7)]
    assert seq_ranges([5, 1, 2, 3, 9, 10, 3]) == [(1, 3), (5, 5), (9, 10)]


def test_the_missing_events_are_named_per_collector_as_seq_ranges() -> None:
    expected = [f"c{n}-{s}" for n in range(3) for s in range(100)]
    stored = [e for e in expected
              if e not in {"c0-5", "c0-6", "c0-7", "c0-40", "c2-99"}] + ["c9-1"]
    text = describe_missing(expected, stored, {0: 100, 1: 100, 2: 100})
    assert text.splitlines() == [
        "5 of 300 events not in ClickHouse, 1 unknown ones there (e.g. ['c9-1'])",
        "  collector 0: 4 of 100 missing, seq 5-7, 40",
        "  collector 2: 1 of 100 missing, seq 99",
    ]


def test_many_ranges_are_cut_short() -> None:
    text = describe_missing([f"c0-{s}" for s in range(40)], [f"c0-{s}" for s in range(1, 40, 2)],
                            {0: 40})
    assert text.splitlines()[1].endswith(", ... (8 more ranges)")


def test_log_tails_leave_out_librdkafkas_connection_chatter() -> None:
    log = "\n".join([
        "2026-12-02 14:05:13,460 INFO sinks.loop [1] sink assigned 12 partitions",
        "%3|1796220365.134|FAIL|rdkafka#producer-3| [thrd:x]: Connect failed",
        "FAIL [rdkafka#producer-1] [thrd:127.0.0.1:45891/3]: Connect to ipv4 failed",
        "GETPID [rdkafka#producer-1] [thrd:main]: Failed to acquire idempotence PID",
        "%4|1796220371.048|SESSTMOUT|rdkafka#consumer-1| [thrd:main]: session timed out",
        "2026-12-02 14:06:46,361 WARNING sinks.loop [1] write failed",
    ])
    assert log_tail(log).splitlines() == [
        "2026-12-02 14:05:13,460 INFO sinks.loop [1] sink assigned 12 partitions",
        "%4|1796220371.048|SESSTMOUT|rdkafka#consumer-1| [thrd:main]: session timed out",
        "2026-12-02 14:06:46,361 WARNING sinks.loop [1] write failed",
    ]
    assert log_tail(log, lines=1).endswith("write failed")


def test_a_budget_gives_each_wait_at_most_what_is_left() -> None:
    budget = Budget(600, reserve_s=60)
    assert budget.left(120) == 120
    assert 530 < budget.left(10_000) <= 540
    assert 470 < budget.left(10_000, keep=60) <= 480
    budget.deadline = time.monotonic() - 5  # spent
    assert budget.left(120) == 1.0  # a last look, never a negative wait
    with pytest.raises(ValueError, match="leaves nothing"):
        Budget(60, reserve_s=60)


def test_a_budget_says_how_long_each_phase_took() -> None:
    budget = Budget(600, reserve_s=60)
    assert budget.spent() == "0s of the 600s budget"
    budget.started -= 30
    budget.mark("start-up")
    assert budget.spent() == "30s of the 600s budget (start-up 30s)"


def _meta(isrs: int = 3, leader: int = 1, skip: str | None = None, short: str | None = None):
    return {t.name: SimpleNamespace(partitions={
        n: SimpleNamespace(leader=leader, isrs=list(range(isrs)))
        for n in range(partitions(t) - (t.name == short))})
        for t in ALL_TOPICS if t.name != skip}


def test_the_cluster_is_replicated_once_every_partition_has_its_leader_and_3_in_sync() -> None:
    assert replicated(_meta())
    assert not replicated(_meta(isrs=2))
    assert not replicated(_meta(leader=-1))
    # a topic just created that the broker asked does not know yet (this raised KeyError,
    # failing the cluster fixture), or knows only some partitions of
    assert not replicated(_meta(skip="deskpulse.activity"))
    assert not replicated(_meta(short="deskpulse.spans"))

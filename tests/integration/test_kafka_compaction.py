"""Policy topics compacted for real by Apache Kafka's log cleaner, tombstones included.

tansu keeps every record; Kafka's cleaner removes superseded versions and, after
``delete.retention.ms``, the tombstones themselves. A worker started afterwards must still
know every current policy (the last version of each) and none that was removed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from deskpulse.adapters.policy_topics import publish_policy, read_policies
from deskpulse.core.procs import http_json, wait_ready
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from schemas.categories import rule_key
from schemas.policy import schedule_key
from tests.conftest import assert_settles, wait_for
from tests.integration.test_policies import dp, event, q, send
from tests.integration.test_worker_recovery import start_worker

pytestmark = [pytest.mark.integration, pytest.mark.brokers("kafka")]

TENANT = "comp"
#: segments roll after 100 ms, the cleaner takes any dirty log, tombstones live 100 ms
CLEANING = {"segment.ms": "100", "segment.bytes": "1048576", "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100", "min.compaction.lag.ms": "0"}
POLICY_TOPICS = (topics.POLICY_DNT, topics.POLICY_SCHEDULE, topics.POLICY_CATEGORY)


def raw_log(broker: str, topic: str) -> list[tuple[int, str, bool]]:
    """(offset, key, is a tombstone) of every record the broker still holds."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": "compaction-reader",
                         "enable.auto.commit": False})
    try:
        tp = TopicPartition(topic, 0, OFFSET_BEGINNING)
        _, high = consumer.get_watermark_offsets(tp, timeout=10)
        consumer.assign([tp])
        out: list[tuple[int, str, bool]] = []
        deadline = time.monotonic() + 30
        while (not out or out[-1][0] + 1 < high) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if not msg.error():
                    out.append((msg.offset(), msg.key().decode(), msg.value() is None))
        return out
    finally:
        consumer.close()


def compacted(log: list[tuple[int, str, bool]], filler: str, removed: set[str]) -> bool:
    """Every key but the filler once, no tombstone left, no removed key left."""
    keys = [key for _, key, _ in log if key != filler]
    return len(keys) == len(set(keys)) and not any(t for _, k, t in log if k != filler) \
        and not removed & set(keys)


def test_a_worker_started_after_compaction_knows_every_current_policy_and_no_removed_one(
        stack, stack_store):
    admin = AdminClient({"bootstrap.servers": stack.broker})
    for future in admin.incremental_alter_configs([
            ConfigResource("topic", name, incremental_configs=[
                _set(k, v) for k, v in CLEANING.items()]) for name in POLICY_TOPICS]).values():
        future.result(30)

    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    base = int(dt.datetime(yesterday.year, yesterday.month, yesterday.day,
                           tzinfo=dt.UTC).timestamp() * 1000)
    hour = 3_600_000
    # many versions of s1's schedule; s2 and s3 get one and lose it (tombstones)
    for h in range(1, 6):
        dp(stack, "schedule", "set", "--user", "s1", "--tz", "UTC", "--hours",
           f"mon-sun 0{h}:00-0{h + 1}:00", "--tenant", TENANT)
    for user in ("s2", "s3"):
        dp(stack, "schedule", "set", "--user", user, "--tz", "UTC", "--hours",
           "mon-sun 09:00-10:00", "--tenant", TENANT)
        dp(stack, "schedule", "clear", "--user", user, "--tenant", TENANT)
    dp(stack, "schedule", "set", "--user", "s4", "--tz", "UTC", "--hours",
       "mon-sun 09:00-10:00", "--tenant", TENANT)
    for user in ("d1", "d2"):
        dp(stack, "dnt", "add", "--user", user, "--tenant", TENANT)
    for n in range(3):  # versions of one category rule; another one added and removed
        dp(stack, "category", "set", "--app", "kcalc", "--category", f"tools{n}",
           "--productivity", "neutral", "--tenant", TENANT)
    dp(stack, "category", "set", "--app", "xeyes", "--category", "fun", "--productivity",
       "unproductive", "--tenant", TENANT)
    dp(stack, "category", "remove", "--app", "xeyes", "--tenant", TENANT)

    want_schedules = {schedule_key(TENANT, "s1"), schedule_key(TENANT, "s4")}
    removed_schedules = {schedule_key(TENANT, "s2"), schedule_key(TENANT, "s3")}
    want_rules = {rule_key(TENANT, "", "app", "kcalc")}
    removed_rules = {rule_key(TENANT, "", "app", "xeyes")}
    want_dnt = {f"{TENANT}/user:d1", f"{TENANT}/user:d2"}
    current = read_policies(KafkaSettings(bootstrap=stack.broker))
    assert (set(current.schedules), set(current.categories.rules), set(current.dnt)) == \
        (want_schedules, want_rules, want_dnt)

    # The cleaner never touches the active segment: keep appending one unchanged record per
    # topic (the current version of a current key) so that segments roll and get cleaned.
    fillers = {topics.POLICY_SCHEDULE: sorted(want_schedules)[-1],
               topics.POLICY_CATEGORY: sorted(want_rules)[0],
               topics.POLICY_DNT: sorted(want_dnt)[0]}
    records = {topics.POLICY_SCHEDULE: current.schedules, topics.POLICY_CATEGORY:
               current.categories.rules, topics.POLICY_DNT: current.dnt}
    removed = {topics.POLICY_SCHEDULE: removed_schedules, topics.POLICY_CATEGORY: removed_rules,
               topics.POLICY_DNT: set()}
    kafka = KafkaSettings(bootstrap=stack.broker)

    def all_compacted() -> bool:
        done = True
        for topic in POLICY_TOPICS:
            log = raw_log(stack.broker, topic)
            if not compacted(log, fillers[topic], removed[topic]) or log[0][0] == 0:
                done = False
                publish_policy(kafka, topic, fillers[topic],
                               records[topic][fillers[topic]].to_record())
        return done

    wait_for(all_compacted, 120, "Kafka's cleaner to compact the policy topics", interval=0.5)
    after = {t: {k for _, k, _ in raw_log(stack.broker, t)} for t in POLICY_TOPICS}
    assert after == {topics.POLICY_SCHEDULE: want_schedules,
                     topics.POLICY_CATEGORY: want_rules, topics.POLICY_DNT: want_dnt}

    # the running worker stops; one started now knows the policies from the compacted topics
    os.kill(stack.children["worker"], signal.SIGTERM)
    fresh, url = start_worker(stack, "worker-after-compaction")
    try:
        health = wait_ready(fresh, f"{url}/health", 90)
        assert (health["schedules"], health["category_rules"], health["dnt_entries"]) == \
            (len(want_schedules), len(want_rules), len(want_dnt))
        send(stack, [
            event(TENANT, "s1", "pc1", base + 5 * hour, base + 5 * hour + 600_000, "in-v5"),
            event(TENANT, "s1", "pc1", base + 1 * hour, base + 1 * hour + 600_000, "in-v1"),
            event(TENANT, "s2", "pc2", base + 12 * hour, base + 12 * hour + 600_000, "gone"),
            event(TENANT, "d1", "pc3", base + 9 * hour, base + 9 * hour + 600_000, "dnt"),
        ])
        # s1's last schedule (05:00-06:00) applies, not an older one; s2 has none any more
        assert_settles(lambda: dict(q(stack_store, "SELECT user, sum(active_seconds) FROM "
                                                   "deskpulse.activity_minutes WHERE tenant = "
                                                   f"'{TENANT}' GROUP BY user")),
                       {"s1": 600.0, "s2": 600.0}, timeout=60)
        _, health = http_json(f"{url}/health")
        assert health["dropped_dnt"] == 1 and health["dropped_out_of_hours"] == 1
    finally:
        fresh.stop(timeout=20)


def _set(name: str, value: str):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
    return ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)

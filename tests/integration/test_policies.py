"""Do-not-track and working hours through the real broker, worker and chDB."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer

from deskpulse.adapters.policy_topics import read_policies
from deskpulse.cli import cli
from deskpulse.core.procs import http_json
from deskpulse.core.settings import KafkaSettings
from deskpulse.ops.embedded import EmbeddedStack
from schemas import topics
from tests.conftest import assert_settles, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.brokers]

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def dp(stack, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--data-dir", stack.data_dir],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def event(tenant, user, host, start, end, eid, **kw) -> dict:
    return {"schema": "deskpulse.activity.v1", "event_id": eid, "tenant": tenant, "host": host,
            "user": user, "app": "code", "start_ms": start, "end_ms": end, **kw}


def send(stack, events: list[dict], raw: list[tuple[bytes, bytes]] = ()) -> None:
    producer = Producer({"bootstrap.servers": stack.broker})
    for ev in events:
        producer.produce(topics.ACTIVITY, key=f"{ev['tenant']}/{ev['user']}".encode(),
                         value=orjson.dumps(ev))
    for key, value in raw:
        producer.produce(topics.ACTIVITY, key=key, value=value)
    assert producer.flush(30) == 0


def worker_sees(stack, dnt: int, schedules: int) -> None:
    def check():
        _, body = http_json(f"{stack.worker_url}/health")
        return body["dnt_entries"] >= dnt and body["schedules"] >= schedules
    wait_for(check, 30, "the worker to load the policies")


def q(store, sql: str) -> list[tuple]:
    return [tuple(row) for row in store.query(sql)[1]]


def test_dnt_and_schedules_in_two_zones(stack, stack_store):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    day = DAYS[yesterday.weekday()]
    base = int(dt.datetime(yesterday.year, yesterday.month, yesterday.day,
                           tzinfo=dt.UTC).timestamp() * 1000)
    hour = 3_600_000

    dp(stack, "dnt", "add", "--user", "bob", "--tenant", "pol", "--reason", "works council")
    dp(stack, "dnt", "add", "--host", "shared-pc", "--tenant", "pol")
    dp(stack, "schedule", "set", "--default", "--tz", "Europe/Berlin", "--hours",
       f"{day} 09:00-17:00", "--tenant", "pol")
    dp(stack, "schedule", "set", "--user", "carol", "--tz", "America/New_York", "--hours",
       f"{day} 09:00-17:00", "--tenant", "pol")
    assert "bob" in dp(stack, "dnt", "list", "--tenant", "pol")
    shown = dp(stack, "schedule", "show", "--tenant", "pol")
    assert "carol (America/New_York)" in shown and "default (Europe/Berlin)" in shown
    worker_sees(stack, dnt=2, schedules=2)

    # Each event straddles 09:00 local by 30 min. The zones' offsets on that day come from
    # the tz database: Europe and the US switch to and from summer time on different days
    # (March, October/November), so no month rule holds all year.
    def nine(zone: str) -> int:
        return int(dt.datetime(yesterday.year, yesterday.month, yesterday.day, 9,
                               tzinfo=ZoneInfo(zone)).timestamp() * 1000)
    berlin9, new_york9 = nine("Europe/Berlin"), nine("America/New_York")
    events = [
        event("pol", "dave", "pc-d", berlin9 - hour // 2, berlin9 + hour // 2, "d1"),
        event("pol", "carol", "pc-c", new_york9 - hour // 2, new_york9 + hour // 2, "c1"),
        event("pol", "carol", "pc-c", base + 2 * hour, base + 2 * hour + 600_000, "c2"),  # night
        event("pol", "bob", "pc-b", base + 10 * hour, base + 10 * hour + 60_000, "b1"),
        event("pol", "alice", "shared-pc", base + 10 * hour, base + 10 * hour + 60_000, "a1"),
    ]
    bad_bob = orjson.dumps({**events[3], "end_ms": 1})  # invalid, but bob is listed
    send(stack, events, raw=[(b"pol/bob", bad_bob)])

    wait_for(lambda: q(stack_store, "SELECT count() FROM deskpulse.activity_spans "
                                    "WHERE tenant = 'pol'")[0][0] >= 2, 60, "clipped spans")
    # the rollups travel on their own topic: wait for them (and for anything counted twice)
    assert_settles(lambda: dict(q(stack_store, "SELECT user, sum(active_seconds) FROM "
                                               "deskpulse.activity_minutes WHERE tenant = 'pol' "
                                               "GROUP BY user")),
                   {"dave": 1800.0, "carol": 1800.0}, timeout=60, what="the in-hours minutes")
    spans = q(stack_store, "SELECT user, toUnixTimestamp64Milli(start), "
                           "toUnixTimestamp64Milli(end) FROM deskpulse.activity_spans "
                           "WHERE tenant = 'pol' ORDER BY user")
    assert spans == [("carol", new_york9, new_york9 + hour // 2),
                     ("dave", berlin9, berlin9 + hour // 2)]
    for table in ("activity_spans", "activity_minutes", "deadletter"):
        rows = q(stack_store, f"SELECT count() FROM deskpulse.{table} "
                              "WHERE user IN ('bob', 'alice')")
        assert rows == [(0,)], table
    assert q(stack_store, "SELECT count() FROM deskpulse.activity_spans "
                          "WHERE host = 'shared-pc'") == [(0,)]
    _, health = http_json(f"{stack.worker_url}/health")
    assert health["dropped_dnt"] >= 3 and health["dropped_out_of_hours"] >= 1
    metrics = http_json(f"{stack.worker_url}/health")[1]
    assert metrics["clipped"] >= 2


def test_late_events_from_a_listed_period_are_dropped_after_removal(stack, stack_store):
    dp(stack, "dnt", "add", "--user", "frank", "--tenant", "late")
    time.sleep(0.5)
    dp(stack, "dnt", "remove", "--user", "frank", "--tenant", "late")
    entry = read_policies(KafkaSettings(bootstrap=stack.broker)).dnt["late/user:frank"]
    [(listed_from, listed_to)] = entry.periods
    assert listed_to is not None and listed_to > listed_from
    worker_sees(stack, dnt=3, schedules=2)
    inside = event("late", "frank", "pc-f", listed_from + 10, listed_to - 10, "f-in")
    after = event("late", "frank", "pc-f", listed_to + 1000, listed_to + 61_000, "f-after")
    time.sleep(1.1)  # "after" must not be in the future... it ends ~1 min ahead: allowed (5 min)
    send(stack, [inside, after])
    wait_for(lambda: q(stack_store, "SELECT count() FROM deskpulse.activity_spans "
                                    "WHERE tenant = 'late'")[0][0] >= 1, 60, "frank's span")
    time.sleep(2)
    assert q(stack_store, "SELECT event_id FROM deskpulse.activity_spans "
                          "WHERE tenant = 'late'") == [("f-after",)]


def test_policies_survive_a_restart_of_the_embedded_stack(tmp_path):
    first = EmbeddedStack(tmp_path, kafka_port=0, partitions=1)
    info = first.start()
    try:
        r = CliRunner().invoke(cli, ["dnt", "add", "--user", "grace", "--data-dir",
                                     info.data_dir], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        wait_for(lambda: (tmp_path / "policies.json").exists()
                 and b"grace" in (tmp_path / "policies.json").read_bytes(), 20,
                 "the policy mirror")
    finally:
        first.stop()
    second = EmbeddedStack(tmp_path, kafka_port=0, partitions=1)
    info = second.start()
    try:
        r = CliRunner().invoke(cli, ["dnt", "list", "--data-dir", info.data_dir],
                               catch_exceptions=False)
        assert "grace" in r.output and "listed" in r.output
        _, health = http_json(f"{info.worker_url}/health")
        assert health["dnt_entries"] == 1, "the worker started with the restored policy"
    finally:
        second.stop()


def test_bad_policy_input_is_refused_and_nothing_published(stack):
    for args, message in [
        (["schedule", "set", "--default", "--tz", "Mars/Base", "--hours", "mon 09:00-10:00"],
         "unknown time zone 'Mars/Base'"),
        (["schedule", "set", "--user", "x", "--tz", "UTC", "--hours", "mon 9-5"], "not like"),
        (["schedule", "set", "--user", "x", "--tz", "UTC", "--hours", "mon 09:00-12:00",
          "--hours", "mon 11:00-13:00"], "overlap"),
        (["dnt", "add", "--user", "a", "--host", "b"], "exactly one subject"),
        (["dnt", "remove", "--user", "nobody"], "is not on the do-not-track list"),
    ]:
        result = CliRunner().invoke(cli, [*args, "--data-dir", stack.data_dir])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    policies = read_policies(KafkaSettings(bootstrap=stack.broker))
    assert "default/user:x" not in policies.schedules and "default/default" not in \
        policies.schedules

"""Nobody puts time on someone else: key, device signatures and event identity through the real
broker (tansu), stream worker, sink and chDB store of the embedded stack."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer

from collector.publisher import Publisher
from deskpulse.cli import cli
from deskpulse.core.devices import load_signer
from deskpulse.core.procs import http_json
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from schemas.activity import ActivityEvent
from schemas.auth import attach, auth_value, signature
from tests.conftest import assert_settles, wait_for

pytestmark = pytest.mark.integration

NOW = int(time.time() * 1000)


def event(tenant: str, user: str, host: str, event_id: str, *, app: str = "code",
          start: int = NOW - 600_000, seconds: int = 40) -> dict:
    return {"schema": "deskpulse.activity.v1", "event_id": event_id, "tenant": tenant,
            "host": host, "user": user, "app": app, "start_ms": start,
            "end_ms": start + seconds * 1000}


def produce(stack, messages: list[tuple[bytes | None, dict | bytes]]) -> None:
    """``(key, event or raw value)``, in order, acknowledged."""
    producer = Producer({"bootstrap.servers": stack.broker, "acks": "all"})
    for key, value in messages:
        producer.produce(topics.ACTIVITY, key=key,
                         value=value if isinstance(value, bytes) else orjson.dumps(value))
    assert producer.flush(30) == 0


def dp(stack, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--data-dir", stack.data_dir])
    assert result.exit_code == 0, result.output
    return result.output


def q(store, sql: str) -> list[tuple]:
    return [tuple(row) for row in store.query(sql)[1]]


def deadletters(store, tenant: str) -> list[tuple]:
    return q(store, "SELECT reason, user, JSONExtractString(payload, 'event_id') "
                    f"FROM deskpulse.deadletter WHERE tenant = '{tenant}' ORDER BY 3")


def health(stack) -> dict:
    return http_json(f"{stack.worker_url}/health")[1]


def test_an_event_keyed_for_another_person_is_dead_lettered_not_stored(stack, stack_store):
    own = event("keyco", "alice", "pc-alice", "k-own")
    forged = event("keyco", "alice", "pc-alice", "k-forged", app="game", seconds=3000)
    produce(stack, [(b"default/mallory", forged),     # mallory's key, alice's payload
                    (None, event("keyco", "alice", "pc-alice", "k-nokey")),
                    (b"keyco/alice", own)])
    wait_for(lambda: len(deadletters(stack_store, "keyco")) == 2, 60, "two dead letters")
    assert_settles(lambda: q(stack_store, "SELECT user, app, sum(active_seconds) "
                                          "FROM deskpulse.activity_minutes WHERE tenant = "
                                          "'keyco' GROUP BY user, app"),
                   [("alice", "code", 40.0)], timeout=60, what="alice's own time only")
    assert deadletters(stack_store, "keyco") == [("key_mismatch", "alice", "k-forged"),
                                                 ("key_mismatch", "alice", "k-nokey")]
    assert q(stack_store, "SELECT event_id FROM deskpulse.activity_spans "
                          "WHERE tenant = 'keyco'") == [("k-own",)]


def test_an_event_id_reused_by_another_person_or_computer_leaves_the_victims_data_intact(
        stack, stack_store):
    start = NOW - 3_600_000
    victim = event("reuse", "alice", "pc-alice", "V", start=start, seconds=40)
    messages = [
        (b"reuse/alice", victim),
        # alice's second computer happens to send the same event_id for the same start
        (b"reuse/alice", event("reuse", "alice", "pc-2", "V", app="mail", start=start,
                               seconds=10)),
        # mallory reuses the victim's event_id for her own time
        (b"reuse/mallory", event("reuse", "mallory", "pc-mallory", "V", app="game",
                                 start=start, seconds=25)),
        # ... and tries to overwrite the victim's span from her own partition
        (b"reuse/mallory", event("reuse", "alice", "pc-alice", "V", app="game", start=start,
                                 seconds=3000)),
        # the victim's collector sends its event again (a retry): one event, counted once
        (b"reuse/alice", victim),
    ]
    produce(stack, messages)
    expected = [("alice", "pc-2", "mail", 10.0), ("alice", "pc-alice", "code", 40.0),
                ("mallory", "pc-mallory", "game", 25.0)]
    assert_settles(lambda: q(stack_store, "SELECT user, host, app, sum(active_seconds) "
                                          "FROM deskpulse.activity_minutes WHERE tenant = "
                                          "'reuse' GROUP BY user, host, app ORDER BY 1, 2"),
                   expected, timeout=90, what="each subject's own minutes")
    spans = q(stack_store, "SELECT user, host, app, toUnixTimestamp64Milli(end) - "
                           "toUnixTimestamp64Milli(start) FROM deskpulse.activity_spans "
                           "WHERE tenant = 'reuse' AND event_id = 'V' ORDER BY 1, 2")
    assert spans == [("alice", "pc-2", "mail", 10_000), ("alice", "pc-alice", "code", 40_000),
                     ("mallory", "pc-mallory", "game", 25_000)], "three events, three spans"
    assert q(stack_store, "SELECT reason FROM deskpulse.deadletter WHERE tenant = 'reuse'") \
        == [("key_mismatch",)]
    assert q(stack_store, "SELECT sum(active_seconds) FROM deskpulse.activity_daily "
                          "WHERE tenant = 'reuse' AND user = 'alice'") == [(50.0,)]


def test_device_signatures_decide_in_enforce_and_only_count_in_warn(stack, stack_store,
                                                                    tmp_path: Path):
    creds = {}
    for name, args in (("alice", ("--host", "pc-alice", "--user", "alice")),
                       ("mallory", ("--host", "pc-mallory", "--user", "mallory")),
                       ("old", ("--host", "pc-old"))):
        creds[name] = tmp_path / f"{name}.cred"
        dp(stack, "device", "enrol", "--tenant", "secure", *args, "--out", str(creds[name]))
    records_before = health(stack)["policy_records"]
    dp(stack, "device", "mode", "enforce", "--tenant", "secure")
    dp(stack, "device", "revoke", "--tenant", "secure", "--host", "pc-old", "--reason", "lost")
    dp(stack, "device", "mode", "warn", "--tenant", "transit")
    wait_for(lambda: health(stack)["policy_records"] >= records_before + 3, 30,
             "the worker to read the device policies")
    assert "pc-old" in dp(stack, "device", "list", "--tenant", "secure")

    # alice's collector: the real publisher, signing with her credential
    publisher = Publisher(KafkaSettings(stack.broker, device_credential=creds["alice"]))
    own = ActivityEvent(schema="deskpulse.activity.v1", event_id="s-own", tenant="secure",
                        host="pc-alice", user="alice", app="code", start_ms=NOW - 120_000,
                        end_ms=NOW - 80_000)
    publisher.send(own)
    assert publisher.flush(30) == 0 and publisher.acked == 1

    alice_event = event("secure", "alice", "pc-alice", "s-forged", app="game", seconds=900)
    raw = orjson.dumps(alice_event)
    mallory = load_signer(creds["mallory"])
    alice = load_signer(creds["alice"])
    old = load_signer(creds["old"])
    old_event = event("secure", "olga", "pc-old", "s-old")
    old_raw = orjson.dumps(old_event)
    genuine = attach(raw, alice.sign("secure", "pc-alice", "alice", b"secure/alice", raw))
    produce(stack, [
        # mallory signs alice's event with her own key
        (b"secure/alice", attach(raw, auth_value(1, True, signature(mallory.key,
                                                                    b"secure/alice", raw)))),
        (b"secure/alice", event("secure", "alice", "pc-alice", "s-unsigned")),
        # a genuine signature of alice's computer, on a message changed in transit
        (b"secure/alice", genuine.replace(b'"s-forged"', b'"s-tampered"')),
        (b"secure/olga", attach(old_raw, old.sign("secure", "pc-old", "olga", b"secure/olga",
                                                  old_raw))),
        # the transition tenant: nobody signs yet, all accepted and counted
        (b"transit/tom", event("transit", "tom", "pc-tom", "t-1")),
    ])
    wait_for(lambda: len(deadletters(stack_store, "secure")) == 4, 60, "four dead letters")
    assert deadletters(stack_store, "secure") == [
        ("bad_signature", "alice", "s-forged"), ("revoked_device", "olga", "s-old"),
        ("bad_signature", "alice", "s-tampered"), ("unsigned", "alice", "s-unsigned")]
    assert_settles(lambda: q(stack_store, "SELECT tenant, user, sum(active_seconds) "
                                          "FROM deskpulse.activity_minutes WHERE tenant IN "
                                          "('secure', 'transit') GROUP BY 1, 2 ORDER BY 1"),
                   [("secure", "alice", 40.0), ("transit", "tom", 40.0)], timeout=60,
                   what="alice's signed time and the transition tenant's")
    with urllib_open(f"{stack.worker_url}/metrics") as text:
        assert 'deskpulse_stream_device_auth_total{mode="enforce",result="verified"} 1.0' in text
        assert 'deskpulse_stream_device_auth_total{mode="warn",result="unsigned"}' in text
        assert 'deskpulse_stream_deadletters_total{reason="bad_signature"} 2.0' in text
    assert health(stack)["device_auth_tenants"] == {"secure": "enforce", "transit": "warn"}


def test_the_simulated_fleet_is_enrolled_by_the_embedded_stack(stack, stack_store):
    dp(stack, "device", "mode", "enforce", "--tenant", "simco")
    wait_for(lambda: health(stack)["device_auth_tenants"].get("simco") == "enforce", 30,
             "the worker to enforce for simco")
    verified_before = health(stack)["auth_verified"]
    out = dp(stack, "simulate", "--collectors", "2", "--tenant", "simco")
    published = int(re.search(r"published (\d+) events", out).group(1))
    assert published > 100
    wait_for(lambda: health(stack)["auth_verified"] >= verified_before + published, 60,
             "every simulated event verified")
    assert q(stack_store, "SELECT count() FROM deskpulse.deadletter WHERE tenant = 'simco'") \
        == [(0,)]


class urllib_open:
    """The text of a URL (a context manager, for the metrics page)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> str:
        import urllib.request
        with urllib.request.urlopen(self.url, timeout=5) as resp:
            return resp.read().decode()

    def __exit__(self, *exc: object) -> None:
        return None

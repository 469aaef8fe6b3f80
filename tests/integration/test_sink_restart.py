"""New events after ``deskpulse up`` restarts are all stored (real tansu, worker, sink, chDB).

tansu's memory storage forgets every topic on restart, so the spans and rollups topics
start again at offset 0. The sink's insert deduplication token used to be built from
topic/partition/offset ranges: new data at reused offsets got old tokens and ClickHouse
dropped it silently. The token now identifies the data written.
"""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.ops.embedded import EmbeddedStack
from deskpulse.ops.store import StackStore
from schemas import topics
from tests.conftest import assert_settles, wait_for

pytestmark = pytest.mark.integration

TENANT = "restart"
USERS = ("ana", "ben", "cy")


def events(run: str, count: int) -> list[dict]:
    now = int(time.time() * 1000)
    return [{"schema": "deskpulse.activity.v1", "event_id": f"{run}-{i}", "tenant": TENANT,
             "host": f"{USERS[i % 3]}-pc", "user": USERS[i % 3], "app": "code",
             "start_ms": now - 600_000 + i * 1000, "end_ms": now - 600_000 + i * 1000 + 500}
            for i in range(count)]


def send_one_by_one(bootstrap: str, store: StackStore, batch: list[dict]) -> None:
    """One event at a time, each stored before the next: the sink's batches then have the
    same offset ranges in both runs, as they did when the loss was found."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for ev in batch:
        producer.produce(topics.ACTIVITY, orjson.dumps(ev),
                         key=f"{ev['tenant']}/{ev['user']}".encode())
        assert producer.flush(30) == 0
        wait_for(lambda ev=ev: stored(store, ev["event_id"]), timeout=60,
                 what=f"event {ev['event_id']} stored")


def stored(store: StackStore, event_id: str) -> bool:
    _, rows = store.query("SELECT count() FROM deskpulse.activity_spans "
                          f"WHERE tenant = '{TENANT}' AND event_id = '{event_id}'")
    return rows[0][0] == 1


def stored_ids(store: StackStore, run: str) -> set[str]:
    _, rows = store.query("SELECT event_id FROM deskpulse.activity_spans "
                          f"WHERE tenant = '{TENANT}' AND startsWith(event_id, '{run}-')")
    return {r[0] for r in rows}


def minutes_total(store: StackStore) -> float:
    _, rows = store.query("SELECT round(sum(active_seconds), 3) FROM deskpulse.activity_minutes "
                          f"WHERE tenant = '{TENANT}'")
    return rows[0][0]


def test_new_events_after_a_restart_are_all_stored(tmp_path):
    first, second = events("before", 6), events("after", 6)

    with EmbeddedStack(tmp_path, kafka_port=0, partitions=2) as stack:
        send_one_by_one(stack.info.broker, StackStore(stack.info), first)

    with EmbeddedStack(tmp_path, kafka_port=0, partitions=2) as stack:
        store = StackStore(stack.info)
        assert stored_ids(store, "before") == {e["event_id"] for e in first}
        send_one_by_one(stack.info.broker, store, second)  # the same offsets as before
        third = events("again", 6)
        producer = Producer({"bootstrap.servers": stack.info.broker})
        for ev in third:  # no waiting: whatever the batching, nothing may be dropped
            producer.produce(topics.ACTIVITY, orjson.dumps(ev),
                             key=f"{ev['tenant']}/{ev['user']}".encode())
        assert producer.flush(30) == 0
        want = {e["event_id"] for e in third}
        wait_for(lambda: stored_ids(store, "again") == want, timeout=60,
                 what="every event of the burst")
        assert stored_ids(store, "after") == {e["event_id"] for e in second}
        assert_settles(lambda: minutes_total(store), round(18 * 0.5, 3),
                       what="the minutes of all 18 events")

"""The promises to the people measured, checked everywhere the pipeline keeps anything.

One stack; then every topic (read to its end), every table and every log is searched:
a secret typed on the monitored desktop appears nowhere; a do-not-track person and an
out-of-hours person leave no row in any table and nothing in any output topic; after
`forget`, a person has no row in any table.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas import topics
from sinks.erase import TABLES as ERASABLE
from tests.conftest import wait_for
from tests.helpers.collector_proc import CollectorProc
from tests.integration.test_policies import dp, event, send, worker_sees
from tests.integration.xdesktop import x_desktop

pytestmark = pytest.mark.integration

SECRET = "Sw0rdfish-7Kq"
OUTPUTS = (topics.SPANS, topics.ROLLUPS, topics.DEADLETTER, topics.STREAMS_SEEN)


def topic_bytes(bootstrap: str, topic: str) -> bytes:
    """Every message of ``topic``, keys and values, read to the end of each partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scan-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        out, done = [], {p for p, end in ends.items() if end <= 0}
        deadline = time.monotonic() + 60
        while len(done) < len(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                out.append((msg.key() or b"") + b"\x00" + (msg.value() or b""))
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
        assert len(done) == len(ends), f"could not read {topic} to its end"
        return b"\n".join(out)
    finally:
        consumer.close()


def table_text(store) -> dict[str, str]:
    _, tables = store.query("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                            "AND engine NOT IN ('Null', 'MaterializedView')")
    return {name: repr(store.query(f"SELECT * FROM deskpulse.{name}")[1]) for (name,) in tables}


def test_nothing_private_is_kept_anywhere(stack, stack_store, tmp_path):
    yesterday = time.time() * 1000 - 86_400_000
    dp(stack, "dnt", "add", "--user", "dora", "--tenant", "priv")
    dp(stack, "schedule", "set", "--user", "nick", "--tz", "UTC", "--hours",
       "mon-sun 09:00-10:00", "--tenant", "priv")
    day = int(yesterday // 86_400_000 * 86_400_000)
    worker_sees(stack, dnt=1, schedules=1)  # a policy applies from when the worker has it
    send(stack, [
        event("priv", "dora", "pc-d", day + 3_600_000, day + 3_700_000, "d1"),
        event("priv", "nick", "pc-n", day + 20 * 3_600_000, day + 20 * 3_600_000 + 60_000, "n1"),
        event("priv", "gary", "pc-g", day + 3_600_000, day + 3_700_000, "g1"),
        event("priv", "ivy", "pc-i", day + 3_600_000, day + 3_700_000, "i1"),
    ], raw=[(b"priv/dora", b'{"tenant": "priv", "user": "dora", "broken": ')])

    with x_desktop(tmp_path) as (desktop, _):
        desktop.open_window("Login form", "Formapp")
        desktop.activate("Login form")
        collector = CollectorProc(tmp_path, desktop, stack.broker, "typist")
        collector.start()
        time.sleep(1.5)
        desktop.type(SECRET)
        time.sleep(2.5)
        assert collector.stop() == 0

    def count(sql: str) -> int:
        return int(stack_store.query(sql)[1][0][0])
    wait_for(lambda: count("SELECT count() FROM deskpulse.activity_spans WHERE user IN "
                           "('typist', 'gary', 'ivy')") >= 3, 120, "the spans", interval=1)
    time.sleep(2)  # whatever should not arrive has had its chance
    dp(stack, "forget", "--user", "gary", "--tenant", "priv", "--yes")

    tables = table_text(stack_store)
    assert {"spans_store", "minutes_store", "hours_agg", "days_agg",
            "deadletter_store"} <= set(tables)
    assert "ivy" in tables["spans_store"], "the scan sees what is there"
    outputs = {t: topic_bytes(stack.broker, t) for t in OUTPUTS}
    everything = [tables[t].encode() for t in tables] + list(outputs.values())
    everything.append(topic_bytes(stack.broker, topics.ACTIVITY))
    logs = [p for p in (Path(stack.data_dir) / "logs").glob("*.log")] + \
        [p for p in tmp_path.glob("spool.db*")] + [collector.log, tmp_path / "collector.out"]
    everything += [p.read_bytes() for p in logs if p.exists()]

    for blob in everything:
        assert SECRET.encode() not in blob and b"Sw0rdfish" not in blob
    for user in ("dora", "nick"):
        for name, text in tables.items():
            assert f"'{user}'" not in text, f"{user} in {name}"
        for topic, blob in outputs.items():
            assert f'"user":"{user}"'.encode() not in blob, f"{user} in {topic}"
            assert f"priv\x1f{user[0]}1".encode() not in blob, f"{user}'s event id in {topic}"
    for name in ERASABLE:
        assert "'gary'" not in tables[name], f"gary in {name} after forget"

"""Dead letters are identified by the message, not only by where it was read (real chDB).

A broker that lost its topics (tansu keeps them in memory; a re-created topic anywhere)
hands out offset 0 again, so two different bad messages can be read from the same
(topic, partition, offset). Each is a dead letter of its own; the same message read
again (a replay by a new consumer group, hours later) stays one.
"""

from __future__ import annotations

import textwrap
import time

import pytest

from schemas import topics
from sinks.batch import content_token
from sinks.rows import INPUT_TABLES, poison_record
from sinks.writer import ClickHouseWriter
from tests.helpers.migrations import run_in_store, store_before

pytestmark = pytest.mark.integration

TABLE = INPUT_TABLES[topics.DEADLETTER]
NOW = int(time.time() * 1000)  # within the dead letters' retention


def write_poison(chdb, value: bytes, *, offset: int, now_ms: int) -> None:
    body = poison_record(value, "not JSON", topic=topics.SPANS, partition=0, offset=offset,
                         now_ms=now_ms) + b"\n"
    ClickHouseWriter(chdb).write(TABLE, body, content_token(TABLE, [value, str(now_ms).encode()]))


def dead_letters(chdb) -> list[tuple]:
    return chdb.query("SELECT offset, payload FROM deskpulse.deadletter "
                      "ORDER BY payload").result_rows


def test_a_new_bad_message_at_a_reused_offset_is_kept_beside_the_old_one(chdb):
    write_poison(chdb, b"\x00 before the broker restart \xff", offset=0, now_ms=NOW - 3_600_000)
    write_poison(chdb, b"\x00 after the broker restart \xff", offset=0, now_ms=NOW)
    chdb.command("OPTIMIZE TABLE deskpulse.deadletter_store FINAL")  # what merges would do
    rows = dead_letters(chdb)
    assert len(rows) == 2, rows
    assert {offset for offset, _ in rows} == {0}


def test_the_same_bad_message_read_again_stays_one_dead_letter(chdb):
    value = b"\x00 replayed \xff"
    write_poison(chdb, value, offset=7, now_ms=NOW - 3_600_000)
    write_poison(chdb, value, offset=7, now_ms=NOW)  # a new group, an hour later
    chdb.command("OPTIMIZE TABLE deskpulse.deadletter_store FINAL")
    assert len([r for r in dead_letters(chdb) if r[0] == 7]) == 1


UPGRADE = store_before(12) + textwrap.dedent("""
    # 300 dead letters of the old schema, at distinct positions, one of them erased later
    store.command(
        "INSERT INTO deskpulse.deadletter_in (received_at_ms, reason, detail, field, payload, "
        "topic, partition, offset, tenant, user, host) "
        "SELECT toUnixTimestamp64Milli(now64(3)) - 3600000 + number, 'invalid_event', "
        "'missing field', 'user', "
        "concat('bad ', toString(number)), 'deskpulse.activity', number % 3, "
        "number, 'acme', concat('u', toString(number % 5)), 'pc' FROM numbers(300) "
        "SETTINGS insert_deduplicate = 0")
    store.command(retention.statement("deadletter", 12))
    cols = ("received_at, reason, detail, field, payload, topic, partition, offset, tenant, "
            "user, host")
    before = rows(f"SELECT {cols} FROM deskpulse.deadletter ORDER BY topic, partition, offset")
    applied = [m.version for m in migrate.apply(store)]
    after = rows(f"SELECT {cols} FROM deskpulse.deadletter ORDER BY topic, partition, offset")
    print(orjson.dumps({
        "applied": applied, "same": before == after, "count": len(after),
        "key": rows("SELECT sorting_key FROM system.tables WHERE database = 'deskpulse' "
                    "AND name = 'deadletter_store'")[0][0],
        "retention": retention.current(store)["deadletter"],
        "leftovers": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                          "AND name LIKE '%catchup%'"),
        "again": [m.version for m in migrate.apply(store)],
    }, default=str).decode())
""")


def test_the_upgrade_keeps_every_dead_letter_and_its_retention(tmp_path):
    result = run_in_store(UPGRADE, tmp_path / "store", timeout=300)
    assert 12 in result["applied"] and result["again"] == []
    assert result["same"] and result["count"] == 300, "every dead letter, every column"
    assert result["key"] == "topic, partition, offset, sipHash64(payload)"
    assert result["retention"] == 12, "the retention set before the upgrade is kept"
    assert result["leftovers"] == []

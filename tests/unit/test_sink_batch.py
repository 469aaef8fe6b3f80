import orjson

from schemas import topics
from sinks.batch import Batch
from sinks.rows import DAYS_TABLE, HOURS_TABLE, MINUTES_TABLE, rollup_rows

NOW = 1_795_000_000_000


def rollup(event_id="e1", idle=False):
    return orjson.dumps({"event_id": event_id, "tenant": "acme", "user": "alice", "host": "h",
                         "app": "code", "domain": "", "idle": idle,
                         "minutes": [[1_795_000_020, 40_000], [1_795_000_080, 5_500]]})


def minute_rows(value):
    return rollup_rows(value)[MINUTES_TABLE]


def test_rollup_rows_split_active_and_idle():
    assert minute_rows(rollup()) == [
        ("acme", "alice", "h", "code", "", 1_795_000_020, "e1", 40_000, 0),
        ("acme", "alice", "h", "code", "", 1_795_000_080, "e1", 5_500, 0)]
    assert [r[-2:] for r in minute_rows(rollup(idle=True))] == [(0, 40_000), (0, 5_500)]


def test_offsets_ranges_commit_positions_and_stable_token():
    a, b = Batch(), Batch()
    for batch in (a, b):
        batch.add(topics.ROLLUPS, 1, 10, rollup("e1"), NOW)
        batch.add(topics.ROLLUPS, 1, 11, rollup("e2"), NOW)
        batch.add(topics.ROLLUPS, 0, 3, rollup("e3"), NOW)
    assert a.commit_offsets() == {(topics.ROLLUPS, 1): 12, (topics.ROLLUPS, 0): 4}
    assert a.row_count() == 6 + 3 + 3  # minute rows, then one hour and one day row each
    assert a.dedup_token(MINUTES_TABLE) == b.dedup_token(MINUTES_TABLE)
    assert a.dedup_token(MINUTES_TABLE) != a.dedup_token(HOURS_TABLE)
    c = Batch()
    c.add(topics.ROLLUPS, 1, 10, rollup("e1"), NOW)
    assert c.dedup_token(MINUTES_TABLE) != a.dedup_token(MINUTES_TABLE)
    writes = {table: (columns, rows) for table, columns, rows, _ in a.writes()}
    assert sorted(writes) == sorted([MINUTES_TABLE, HOURS_TABLE, DAYS_TABLE])
    assert len(writes[MINUTES_TABLE][1]) == 6 and len(writes[MINUTES_TABLE][0]) == 9


def test_hour_and_day_rows_sum_the_minutes_across_boundaries():
    day = 1_795_046_400  # a UTC midnight
    assert day % 86400 == 0
    record = orjson.dumps({"event_id": "e9", "tenant": "acme", "user": "alice", "host": "h",
                           "app": "code", "domain": "", "idle": False,
                           "minutes": [[day - 120, 60_000], [day - 60, 60_000], [day, 30_000]]})
    rows = rollup_rows(record)
    assert [(r[5], r[7]) for r in rows[HOURS_TABLE]] == [(day - 3600, 120_000), (day, 30_000)]
    assert [(r[5], r[7]) for r in rows[DAYS_TABLE]] == [(day // 86400 - 1, 120_000),
                                                         (day // 86400, 30_000)]
    total = sum(r[7] for r in rows[MINUTES_TABLE])
    assert total == sum(r[7] for r in rows[HOURS_TABLE]) == sum(r[7] for r in rows[DAYS_TABLE])


def test_poison_message_becomes_a_deadletter_row_and_is_still_committed():
    batch = Batch()
    batch.add(topics.SPANS, 0, 7, b"{broken", NOW)
    [(table, _, rows, _)] = batch.writes()
    assert table == "deskpulse.deadletter_store"
    assert rows[0][1] == "sink_undecodable" and rows[0][5:8] == (topics.SPANS, 0, 7)
    assert batch.commit_offsets() == {(topics.SPANS, 0): 8}
    assert batch.poisoned == 1


def test_a_message_may_hold_an_array_of_records():
    batch = b"[" + rollup("e1") + b"," + rollup("e2", idle=True) + b"]"
    rows = minute_rows(batch)
    assert [r[6] for r in rows] == ["e1", "e1", "e2", "e2"]
    assert minute_rows(b"[]") == []

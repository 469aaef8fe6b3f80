import orjson

from schemas import topics
from sinks.batch import Batch
from sinks.rows import minute_rows

NOW = 1_795_000_000_000


def rollup(event_id="e1", idle=False):
    return orjson.dumps({"event_id": event_id, "tenant": "acme", "user": "alice", "host": "h",
                         "app": "code", "domain": "", "idle": idle,
                         "minutes": [[1_795_000_020, 40_000], [1_795_000_080, 5_500]]})


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
    assert a.row_count() == 6
    assert a.dedup_token(topics.ROLLUPS) == b.dedup_token(topics.ROLLUPS)
    c = Batch()
    c.add(topics.ROLLUPS, 1, 10, rollup("e1"), NOW)
    assert c.dedup_token(topics.ROLLUPS) != a.dedup_token(topics.ROLLUPS)
    [(table, columns, rows, token)] = a.writes()
    assert table == "deskpulse.minutes_store" and len(rows) == 6 and len(columns) == 9


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

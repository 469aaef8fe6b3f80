import orjson

from schemas import topics
from sinks.batch import Batch
from sinks.rows import count_records, insert_body, problem


def rollup(event_id="e1", idle=False):
    return orjson.dumps({"event_id": event_id, "tenant": "acme", "user": "alice", "host": "h",
                         "app": "code", "domain": "", "idle": idle,
                         "minutes": [[1_795_000_020, 40_000], [1_795_000_080, 5_500]]})


def test_messages_of_one_or_many_records_become_one_json_array():
    body = insert_body([rollup("e1"), b"[" + rollup("e2") + b"," + rollup("e3") + b"]", b"[]",
                        b" [ ] "])
    assert [r["event_id"] for r in orjson.loads(body)] == ["e1", "e2", "e3"]
    assert insert_body([]) == b"[]"
    assert count_records(topics.ROLLUPS, body) == 3


def test_offsets_ranges_commit_positions_and_stable_token():
    a, b = Batch(), Batch()
    for batch in (a, b):
        batch.add(topics.ROLLUPS, 1, 10, rollup("e1"))
        batch.add(topics.ROLLUPS, 1, 11, rollup("e2"))
        batch.add(topics.ROLLUPS, 0, 3, rollup("e3"))
    assert a.commit_offsets() == {(topics.ROLLUPS, 1): 12, (topics.ROLLUPS, 0): 4}
    assert a.records() == 3 and a.messages == 3 and a.size == 3 * len(rollup())
    [(table, body, token)] = a.writes()
    assert table == "deskpulse.rollups_in" and len(orjson.loads(body)) == 3
    assert token == b.writes()[0][2], "the same data gives the same token"
    c = Batch()
    c.add(topics.ROLLUPS, 1, 10, rollup("e1"))
    assert c.writes()[0][2] != token


def test_the_token_identifies_the_data_not_the_offsets():
    """A broker that forgot its topics hands out offset 0 again: new data, same offsets."""
    before, after, moved = Batch(), Batch(), Batch()
    before.add(topics.ROLLUPS, 0, 0, rollup("old"))
    after.add(topics.ROLLUPS, 0, 0, rollup("new"))
    moved.add(topics.ROLLUPS, 3, 99, rollup("old"))
    assert before.writes()[0][2] != after.writes()[0][2], "new data at old offsets is new"
    assert before.writes()[0][2] == moved.writes()[0][2], "the same data read elsewhere is not"
    spans = Batch()
    spans.add(topics.SPANS, 0, 0, rollup("old"))
    assert spans.writes()[0][2] != before.writes()[0][2], "the table is part of the token"
    split, joined = Batch(), Batch()
    split.add(topics.ROLLUPS, 0, 0, b"ab")
    split.add(topics.ROLLUPS, 0, 1, b"c")
    joined.add(topics.ROLLUPS, 0, 0, b"a")
    joined.add(topics.ROLLUPS, 0, 1, b"bc")
    assert split.dedup_token(topics.ROLLUPS) != joined.dedup_token(topics.ROLLUPS)


def test_a_batch_quarantined_again_after_a_crash_gets_the_same_tokens():
    def read() -> Batch:
        batch = Batch()
        batch.add(topics.SPANS, 0, 7, b"{broken")
        batch.add(topics.ROLLUPS, 2, 5, rollup("ok"))
        return batch
    first, again, other = read(), read(), Batch()
    first.quarantine(now_ms=1_000)
    again.quarantine(now_ms=9_000)  # the re-read batch's dead letters carry another time
    assert [w[2] for w in first.writes()] == [w[2] for w in again.writes()]
    assert [w[1] for w in first.writes()] != [w[1] for w in again.writes()]
    other.add(topics.SPANS, 0, 7, b"{broken too")
    other.add(topics.ROLLUPS, 2, 5, rollup("ok"))
    other.quarantine(now_ms=1_000)
    assert dict((t, k) for t, _, k in other.writes())["deskpulse.deadletter_in"] != \
        dict((t, k) for t, _, k in first.writes())["deskpulse.deadletter_in"]


def test_quarantine_turns_poison_into_dead_letters_and_keeps_the_rest():
    batch = Batch()
    batch.add(topics.SPANS, 0, 7, b"{broken")
    batch.add(topics.ROLLUPS, 2, 5, rollup("ok"))
    batch.add(topics.ROLLUPS, 2, 6, orjson.dumps({"event_id": "x", "minutes": "nope"}))
    assert batch.quarantine(now_ms=123) == 2
    writes = {table: orjson.loads(body) for table, body, _ in batch.writes()}
    assert [r["event_id"] for r in writes["deskpulse.rollups_in"]] == ["ok"]
    assert "deskpulse.spans_in" not in writes, "nothing left to insert there"
    letters = writes["deskpulse.deadletter_in"]
    assert [(d["reason"], d["topic"], d["partition"], d["offset"]) for d in letters] == [
        ("sink_undecodable", topics.SPANS, 0, 7), ("sink_undecodable", topics.ROLLUPS, 2, 6)]
    assert letters[0]["payload"] == "{broken" and problem(topics.DEADLETTER,
                                                          orjson.dumps(letters)) is None
    assert batch.commit_offsets() == {(topics.SPANS, 0): 8, (topics.ROLLUPS, 2): 7}
    assert batch.quarantine(now_ms=124) == 0 and batch.poisoned == 2


def test_problem_names_the_field():
    assert problem(topics.ROLLUPS, rollup()) is None
    assert "idle" in problem(topics.ROLLUPS, orjson.dumps({**orjson.loads(rollup()),
                                                           "idle": "no"}))
    assert "not an object" in problem(topics.SPANS, b"[1]")

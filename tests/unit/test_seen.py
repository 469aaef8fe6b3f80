import orjson

from streams.seen import PartitionedSeenIndex


def test_new_duplicate_and_same_position_replay():
    idx = PartitionedSeenIndex()
    assert idx.add_if_absent("t\\x1fe1", 0, 10, 500)
    assert not idx.add_if_absent("t\\x1fe1", 0, 11, 500), "another message: a duplicate"
    assert idx.add_if_absent("t\\x1fe1", 0, 10, 500), "the same message read again"
    assert list(idx.drain()) == [(0, [["t\\x1fe1", 500, 10]])]
    assert list(idx.drain()) == []


def test_log_round_trip_forget_and_expiry():
    idx = PartitionedSeenIndex()
    idx.add_if_absent("a", 3, 1, 100)
    idx.add_if_absent("b", 3, 2, 900)
    [(partition, message)] = list(idx.drain())
    fresh = PartitionedSeenIndex()
    assert not fresh.loaded(3)
    fresh.load(3, orjson.loads(orjson.dumps(message)))
    assert fresh.loaded(3) and len(fresh) == 2
    assert not fresh.add_if_absent("a", 3, 7, 100)
    assert fresh.expire(now_ms=500) == 1 and len(fresh) == 1
    fresh.forget(3)
    assert not fresh.loaded(3) and len(fresh) == 0

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import topics
from schemas.policy import DntEntry, PolicySet
from streams.batch import encode_chunks, process_batch
from streams.metrics import StreamMetrics
from streams.seen import PartitionedSeenIndex
from tests.unit.test_core import NOW, raw


def test_encode_chunks_respects_the_limit_and_keeps_every_record_in_order():
    records = [{"i": i, "pad": "x" * (i % 37)} for i in range(500)]
    chunks = list(encode_chunks(records, limit=1000))
    assert len(chunks) > 1 and all(len(c) <= 1000 for c in chunks)
    assert [r for c in chunks for r in orjson.loads(c)] == records
    assert list(encode_chunks([], limit=10)) == []
    [alone] = list(encode_chunks([{"big": "y" * 50}], limit=10))  # a lone big record still goes
    assert orjson.loads(alone) == [{"big": "y" * 50}]


def test_batch_outputs_keep_their_partition_and_tally_every_outcome():
    policies = PolicySet()
    listed = DntEntry("acme", "user", "mallory").add(NOW - 1_000_000)
    policies.apply_dnt(listed.key, listed.to_record())
    alice, mallory = b"acme/alice", b"acme/mallory"
    batch = [
        (0, 10, alice, raw("a")),
        (0, 11, alice, raw("a")),  # duplicate of offset 10
        (1, 5, alice, raw("b", url="")),
        (1, 6, alice, b"{not json"),
        (1, 7, mallory, raw("c", user="mallory")),
        (3, 0, None, None),  # a tombstone-like empty message
    ]
    seen = PartitionedSeenIndex()
    result = process_batch(batch, now_ms=NOW, seen=seen, policies=policies)
    assert dict(result.tally.outcomes) == {"accepted": 2, "duplicate": 1, "deadlettered": 2,
                                          "dropped_dnt": 1}
    assert dict(result.tally.deadletter_reasons) == {"invalid_json": 2}
    assert result.next_offsets == {0: 12, 1: 8, 3: 1}
    by_topic: dict[tuple[str, int], list] = {}
    for topic, partition, value in result.messages:
        by_topic.setdefault((topic, partition), []).extend(orjson.loads(value))
    assert [s["event_id"] for s in by_topic[(topics.SPANS, 0)]] == ["a"]
    assert [s["domain"] for s in by_topic[(topics.SPANS, 1)]] == [""]
    assert [r["event_id"] for r in by_topic[(topics.ROLLUPS, 1)]] == ["b"]
    assert [d["offset"] for d in by_topic[(topics.DEADLETTER, 1)]] == [6]
    assert [d["offset"] for d in by_topic[(topics.DEADLETTER, 3)]] == [0]
    assert [e[2] for e in by_topic[(topics.STREAMS_SEEN, 0)]] == [10]
    assert "mallory" not in repr(result.messages), "a listed person reaches no output"
    assert list(seen.drain()) == [], "the dedup log entries went out with the batch"

    metrics = StreamMetrics()
    metrics.add(result.tally)
    metrics.add(result.tally)
    assert metrics.totals["events_in"] == 12 and metrics.totals["duplicates"] == 2
    assert metrics.totals["dropped_dnt"] == 2 and metrics.totals["deadlettered"] == 4
    text = metrics.prometheus().decode()
    assert 'deskpulse_stream_deadletters_total{reason="invalid_json"} 4.0' in text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=400), st.integers(min_value=2, max_value=5000))
def test_encode_chunks_keeps_every_record_in_order_under_any_limit(texts, limit):
    records = [{"i": i, "t": t} for i, t in enumerate(texts)]
    chunks = list(encode_chunks(records, limit=limit))
    assert [r for c in chunks for r in orjson.loads(c)] == records
    assert all(len(c) <= limit or len(orjson.loads(c)) == 1 for c in chunks)
    assert all(orjson.loads(c) for c in chunks), "no empty array"

"""The collector's event ids: UUIDv8s of a random run id and the span's sequence number."""

import uuid

import orjson
import pytest

from collector.spans import (
    RUN_ID_BITS,
    SEQ_BITS,
    Identity,
    Sample,
    SpanBuilder,
    event_id,
    new_run_id,
)
from schemas.codec import encode_event
from schemas.validate import validate_event

IDENT = Identity(tenant="acme", host="pc-1", user="alice", client_version="test/1")
T0 = 1_795_000_000_000


def spans(builder: SpanBuilder, n: int) -> list:
    out = []
    for i in range(n):  # a new app every second: each sample closes the span before it
        out.extend(builder.feed(Sample(at_ms=T0 + i * 1000, app=f"app{i % 3}")))
    return out + builder.flush()  # the last sample alone is no span: n - 1 spans


@pytest.mark.parametrize("run_id", [0, 1, 0xFFF, 0x1000, (1 << RUN_ID_BITS) - 1, new_run_id()])
@pytest.mark.parametrize("seq", [0, 1, 123_456_789, (1 << SEQ_BITS) - 1])
def test_an_id_is_a_uuid_v8_that_gives_back_its_run_and_sequence(run_id, seq):
    text = event_id(run_id, seq)
    assert len(text) == 32 and text == text.lower() and int(text, 16) >= 0
    u = uuid.UUID(text)
    assert u.hex == text
    assert u.variant == uuid.RFC_4122 and (u.int >> 76) & 0xF == 8
    value = u.int
    assert value & ((1 << SEQ_BITS) - 1) == seq
    assert ((value >> 80) << 12) | ((value >> 64) & 0xFFF) == run_id


@pytest.mark.parametrize("run_id, seq", [(-1, 0), (1 << RUN_ID_BITS, 0), (0, -1),
                                         (0, 1 << SEQ_BITS)])
def test_out_of_range_parts_are_refused_not_wrapped(run_id, seq):
    with pytest.raises(ValueError, match="out of range"):
        event_id(run_id, seq)


def test_a_builder_numbers_its_spans_and_the_ids_follow_the_sequence():
    b = SpanBuilder(IDENT, next_seq=41, run_id=0xABCDEF)
    events = spans(b, 6)
    assert [e.seq for e in events] == list(range(41, 46))
    assert [e.event_id for e in events] == [event_id(0xABCDEF, s) for s in range(41, 46)]
    for e in events:  # the contract takes them as they are
        assert validate_event(orjson.loads(encode_event(e)), T0 + 10_000) == e


def test_two_runs_never_share_an_id_even_when_the_spool_was_reset():
    # a restart keeps the sequence (the spool's); a deleted spool starts it at 0 again:
    # the run ids, drawn afresh, keep the ids apart
    first, second = SpanBuilder(IDENT), SpanBuilder(IDENT)
    assert first.run_id != second.run_id
    a, b = spans(first, 20), spans(second, 20)
    assert [e.seq for e in a] == [e.seq for e in b]
    assert not {e.event_id for e in a} & {e.event_id for e in b}
    assert len({e.event_id for e in a}) == len(a)


def test_run_ids_are_random_and_use_all_their_bits():
    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(0 <= r < 1 << RUN_ID_BITS for r in ids)
    merged = 0
    for r in ids:
        merged |= r
    assert merged == (1 << RUN_ID_BITS) - 1  # no bit stuck at zero


@pytest.mark.parametrize("stored", [-1, -(1 << 70), 1 << SEQ_BITS, (1 << 63) - 1])
def test_a_damaged_stored_sequence_starts_again_at_0_and_the_collector_keeps_working(stored,
                                                                                    caplog):
    b = SpanBuilder(IDENT, next_seq=stored, run_id=7)
    events = spans(b, 4)
    assert [e.seq for e in events] == [0, 1, 2]
    assert [e.event_id for e in events] == [event_id(7, s) for s in range(3)]
    assert "out of range" in caplog.text


def test_the_last_sequence_number_of_a_run_is_followed_by_a_new_run():
    last = (1 << SEQ_BITS) - 1
    b = SpanBuilder(IDENT, next_seq=last, run_id=7)
    first, second = spans(b, 3)
    assert (first.seq, first.event_id) == (last, event_id(7, last))
    assert second.seq == 0 and b.run_id != 7 and second.event_id == event_id(b.run_id, 0)

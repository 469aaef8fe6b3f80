"""The stream worker's records (msgspec structs) are the wire's typed dicts: same fields in
the same order, and the same JSON as the dict of their values encoded by orjson."""

from typing import get_type_hints

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import Rollup, RollupRecord, Span, SpanRecord, encode_json

texts = st.text(max_size=40)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def test_the_structs_have_the_typed_dicts_fields_in_order():
    for struct, typed in ((Span, SpanRecord), (Rollup, RollupRecord)):
        hints = get_type_hints(typed)
        assert struct.__struct_fields__ == tuple(hints)
        assert get_type_hints(struct) == hints


span_values = st.fixed_dictionaries({
    name: (ints if kind is int else st.booleans() if kind is bool else texts)
    for name, kind in get_type_hints(SpanRecord).items()})
rollup_values = st.fixed_dictionaries({
    name: (st.lists(st.tuples(ints, ints), max_size=5) if name == "minutes" else
           st.booleans() if kind is bool else texts)
    for name, kind in get_type_hints(RollupRecord).items()})


@settings(max_examples=300, deadline=None)
@given(st.lists(span_values, max_size=3), st.lists(rollup_values, max_size=3))
def test_a_record_encodes_as_the_dict_of_its_values(spans, rollups):
    for values, struct in [(v, Span) for v in spans] + [(v, Rollup) for v in rollups]:
        record = struct(**values)
        assert orjson.loads(encode_json([record])) == orjson.loads(orjson.dumps([values]))
        assert all(record[name] == value for name, value in values.items())


def test_a_record_reads_like_its_typed_dict():
    span = Span(event_id="e", tenant="t", user="u", host="h", app="a", exe="", title="",
                url="", domain="", start_ms=1, end_ms=2, idle=False, category="c",
                productivity="p")
    assert span["end_ms"] == 2 and span["idle"] is False
    with pytest.raises(KeyError):
        span["copy"]  # a field name only, never another attribute


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.text(), ints, st.booleans()),
                       max_size=6))
def test_dicts_encode_as_orjson_writes_them(record):
    """Dead letters (dicts, their payload any text, control characters included) and
    dedup entries go through the same encoder: the JSON they decode to is orjson's."""
    assert orjson.loads(encode_json([record, [record]])) == [record, [record]]

"""The one-pass fast path (:func:`schemas.validate.parse_valid`) never accepts what the
Python checks refuse, and accepts the common event with the very same values."""

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.activity import ActivityEvent
from schemas.validate import Invalid, parse, parse_valid
from tests.helpers.events import NOW, event, raw


def same_as_python(data: bytes) -> None:
    """Whatever the fast path accepts, the Python checks accept with the same values."""
    fast = parse_valid(data, NOW)
    slow = parse(data, NOW)
    if fast is None:
        return
    assert isinstance(slow, ActivityEvent), (data, slow)
    for f in dataclasses.fields(ActivityEvent):
        assert getattr(fast, f.name) == getattr(slow, f.name), f.name
        assert type(getattr(fast, f.name)) is type(getattr(slow, f.name)), f.name
    assert fast.domain == slow.domain and fast.key == slow.key
    assert fast.auth == orjson.loads(data).get("auth")


def test_the_common_event_takes_the_fast_path_with_every_value():
    data = raw(url="https://www.GitHub.com/x", title="t", idle=True, seq=7, exe="/usr/bin/x",
               client_version="1.0", auth="v1 1 h abc")
    fast = parse_valid(data, NOW)
    assert fast is not None and fast.domain == "github.com" and fast.auth == "v1 1 h abc"
    same_as_python(data)


@pytest.mark.parametrize("data", [
    raw(tenant="acme\n"),  # fullmatch: re.search of ^...$ would let the newline through
    raw(user="   "), raw(event_id="\t"), raw(host="\u2003"), raw(app=" \n"),
    raw(start_ms=2**63, end_ms=2**63), raw(seq=2**63),  # orjson: an int; msgspec bound: int64
    raw(seq=-1), raw(seq=True), raw(idle=1), raw(start_ms=float(NOW)),
    raw(title=None), raw(url=None),  # null optional: the Python checks take the default
    raw(extra={"x": 1}),  # unknown members: the Python path
    raw()[:-1] + b',"x":"\xff"}',  # invalid UTF-8 where msgspec would only skip
    raw()[:-1] + b',"x":1e999}',  # orjson refuses an infinite number
    raw()[:-1] + b',"auth":"\\ud800"}', b"\xef\xbb\xbf" + raw(),
    raw(end_ms=NOW - 70_000), raw(start_ms=NOW - 4_000_000, end_ms=NOW),
    raw(start_ms=NOW + 400_000, end_ms=NOW + 500_000),
    raw(start_ms=NOW - 8 * 86_400_000, end_ms=NOW - 8 * 86_400_000 + 1),
    raw(schema="deskpulse.activity.v2"), raw(user=...), b"[1]", b"{",
    raw(tenant="a" * 65), raw(event_id="é" * 65), raw(title="😀" * 1025),
])
def test_anything_unusual_goes_the_python_way(data):
    assert parse_valid(data, NOW) is None


@pytest.mark.parametrize("data", [
    raw(event_id="é" * 64, title="😀" * 1024),  # limits count characters, as len() does
    raw(tenant="a" * 64, seq=2**63 - 1),
    raw(start_ms=NOW - 3_600_000, end_ms=NOW),  # the longest span
    raw(user="a", auth=None), raw(auth={"nested": [1, 2.5, "x"]}),
])
def test_at_the_limits_the_fast_path_agrees(data):
    assert parse_valid(data, NOW) is not None
    same_as_python(data)


TEXT = st.one_of(st.text(max_size=6), st.sampled_from(["", " ", "acme", "a\n", "x" * 65,
                                                       "é" * 64, "\u00a0"]))
VALUE = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**65, max_value=2**65),
                  st.floats(allow_nan=False, allow_infinity=False), TEXT,
                  st.lists(st.integers(), max_size=2))
FIELDS = ["schema", "event_id", "tenant", "host", "user", "app", "start_ms", "end_ms", "exe",
          "title", "url", "idle", "client_version", "seq", "auth", "other"]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=5),
       st.lists(st.sampled_from(FIELDS[1:-2]), max_size=2))
def test_fast_path_never_accepts_what_the_python_checks_refuse(changes, dropped):
    obj = event(**changes)
    for name in dropped:
        obj.pop(name, None)
    try:
        data = orjson.dumps(obj)
    except TypeError:  # e.g. an integer orjson cannot write
        return
    same_as_python(data)
    slow = parse(data, NOW)
    if isinstance(slow, Invalid):
        assert parse_valid(data, NOW) is None


def test_what_the_collector_sends_takes_the_fast_path():
    """Every field the collector writes, and its signature member, are known to the fast
    path (an unknown member would send every event the slow way)."""
    from schemas.auth import attach
    from schemas.codec import encode_event
    sent = ActivityEvent(schema="deskpulse.activity.v1", event_id="e1", tenant="acme",
                         host="pc-1", user="alice", app="firefox", start_ms=NOW - 60_000,
                         end_ms=NOW - 1_000, exe="/usr/bin/firefox", title="t",
                         url="https://a.example/", idle=True, client_version="1.2", seq=5)
    for data in (encode_event(sent), attach(encode_event(sent), b"v1 1 h 00ff")):
        assert parse_valid(data, NOW) is not None
        same_as_python(data)

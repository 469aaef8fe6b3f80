import itertools

from collector.spans import Identity, Sample, SpanBuilder, SpanPolicy

IDENT = Identity(tenant="acme", host="pc-1", user="alice", client_version="test/1")
T0 = 1_795_000_000_000


def builder(**policy):
    counter = itertools.count()
    return SpanBuilder(IDENT, SpanPolicy(**policy), new_id=lambda: f"id{next(counter)}")


def feed(b, samples):
    out = []
    for s in samples:
        out.extend(b.feed(s))
    return out


def secs(app, start_s, count, **kw):
    return [Sample(at_ms=T0 + (start_s + i) * 1000, app=app, **kw) for i in range(count)]


def test_merges_samples_and_closes_on_change():
    b = builder()
    samples = secs("code", 0, 10, title="a.py") + secs("firefox", 10, 5, url="https://x.org")
    events = feed(b, samples)
    assert [(e.app, e.start_ms - T0, e.end_ms - T0) for e in events] == [("code", 0, 10_000)]
    tail = b.flush()
    assert [(e.app, e.start_ms - T0, e.end_ms - T0, e.url) for e in tail] == \
        [("firefox", 10_000, 14_000, "https://x.org")]
    assert [e.seq for e in events + tail] == [0, 1]
    assert events[0].event_id == "id0" and events[0].client_version == "test/1"
    assert events[0].key == b"acme/alice"


def test_title_change_and_idle_change_split():
    b = builder()
    events = feed(b, secs("code", 0, 3, title="a") + secs("code", 3, 3, title="b")
                  + secs("code", 6, 3, title="b", idle=True) + secs("code", 9, 1, title="b"))
    assert [(e.title, e.idle, e.end_ms - e.start_ms) for e in events] == \
        [("a", False, 3000), ("b", False, 3000), ("b", True, 3000)]


def test_gap_longer_than_pulsetime_ends_span_at_last_sample():
    b = builder(pulsetime_ms=2000)
    events = feed(b, secs("code", 0, 5) + secs("code", 20, 2))
    assert [(e.start_ms - T0, e.end_ms - T0) for e in events] == [(0, 4000)]
    assert [(e.start_ms - T0, e.end_ms - T0) for e in b.flush()] == [(20_000, 21_000)]


def test_max_length_cuts_long_spans_without_losing_time():
    b = builder(max_span_ms=60_000)
    events = feed(b, secs("code", 0, 150)) + b.flush()
    assert [(e.start_ms - T0, e.end_ms - T0) for e in events] == \
        [(0, 60_000), (60_000, 120_000), (120_000, 149_000)]


def test_samples_are_not_mutated_and_backwards_clock_ignored():
    b = builder()
    s1 = Sample(at_ms=T0 + 5000, app="code")
    feed(b, [s1, Sample(at_ms=T0, app="other")])
    assert s1 == Sample(at_ms=T0 + 5000, app="code")
    assert b.flush() == []  # only one sample in the open span: zero length, nothing emitted

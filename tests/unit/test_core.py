import orjson

from streams.core import Accepted, Duplicate, MemorySeenIndex, Rejected, process

NOW = 1_795_000_000_000


def raw(event_id="e1", **kw):
    ev = {"schema": "deskpulse.activity.v1", "event_id": event_id, "tenant": "acme",
          "host": "pc-1", "user": "alice", "app": "firefox", "url": "https://github.com/x",
          "start_ms": NOW - 90_000, "end_ms": NOW - 10_000}
    ev.update(kw)
    return orjson.dumps(ev)


def run(payload, seen, offset=0):
    return process(payload, now_ms=NOW, seen=seen, partition=2, offset=offset)


def test_accepted_span_and_rollup():
    out = run(raw(), MemorySeenIndex())
    assert isinstance(out, Accepted)
    assert out.span.domain == "github.com" and out.span.start_ms == NOW - 90_000
    assert sum(ms for _, ms in out.rollup.minutes) == 80_000
    assert out.rollup.idle is False


def test_duplicate_event_id_counted_once_per_tenant():
    seen = MemorySeenIndex()
    assert isinstance(run(raw("e1"), seen), Accepted)
    assert isinstance(run(raw("e1", app="other"), seen), Duplicate)
    assert isinstance(run(raw("e1", tenant="other-co"), seen), Accepted)
    assert isinstance(run(raw("e2"), seen), Accepted)


def test_invalid_goes_to_deadletter_with_reason_subject_and_position():
    seen = MemorySeenIndex()
    out = run(raw(end_ms=NOW - 100_000), seen, offset=41)
    assert isinstance(out, Rejected)
    dl = out.deadletter
    assert (dl.reason, dl.field, dl.partition, dl.offset) == ("end_before_start", "end_ms", 2, 41)
    assert (dl.tenant, dl.user) == ("acme", "alice")
    assert orjson.loads(dl.payload)["event_id"] == "e1"
    assert not seen.entries, "an invalid event must not be remembered as seen"


def test_deadletter_payload_truncated_and_binary_safe():
    out = run(b"\xff" * 10_000, MemorySeenIndex())
    assert isinstance(out, Rejected)
    assert out.deadletter.reason == "invalid_json"
    assert len(out.deadletter.payload) == 4096


def test_seen_entry_expires_with_the_horizon():
    seen = MemorySeenIndex()
    run(raw(), seen)
    assert list(seen.entries.values()) == [NOW - 10_000 + 7 * 86_400_000]

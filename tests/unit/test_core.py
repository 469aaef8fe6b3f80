import datetime as dt

import orjson

from schemas.policy import DntEntry, PolicySet, Schedule
from streams.core import Accepted, Dropped, Duplicate, Rejected, process
from streams.seen import PartitionedSeenIndex

NOW = 1_795_000_000_000
ALICE = b"acme/alice"


def raw(event_id="e1", **kw):
    ev = {"schema": "deskpulse.activity.v1", "event_id": event_id, "tenant": "acme",
          "host": "pc-1", "user": "alice", "app": "firefox", "url": "https://github.com/x",
          "start_ms": NOW - 90_000, "end_ms": NOW - 10_000}
    ev.update(kw)
    return orjson.dumps(ev)


_offsets = iter(range(10**9))


def key_of(payload: bytes) -> bytes:
    """The key the collector sets: ``tenant/user`` of the payload (acme/alice if unreadable)."""
    try:
        ev = orjson.loads(payload)
        return f"{ev['tenant']}/{ev['user']}".encode()
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return b"acme/alice"


def run(payload, seen, offset=None):
    """Each call is another message unless ``offset`` says otherwise."""
    return process(payload, key=key_of(payload), now_ms=NOW, seen=seen, partition=2,
                   offset=next(_offsets) if offset is None else offset)


def test_accepted_span_and_rollup():
    out = run(raw(), PartitionedSeenIndex())
    assert isinstance(out, Accepted)
    [span] = out.spans
    assert span["domain"] == "github.com" and span["start_ms"] == NOW - 90_000
    assert sum(ms for _, ms in out.rollup["minutes"]) == 80_000
    assert out.rollup["idle"] is False


def test_duplicate_event_id_counted_once_per_tenant():
    seen = PartitionedSeenIndex()
    assert isinstance(run(raw("e1"), seen), Accepted)
    assert isinstance(run(raw("e1", app="other"), seen), Duplicate)
    assert isinstance(run(raw("e1", tenant="other-co"), seen), Accepted)
    assert isinstance(run(raw("e2"), seen), Accepted)


def test_invalid_goes_to_deadletter_with_reason_subject_and_position():
    seen = PartitionedSeenIndex()
    out = run(raw(end_ms=NOW - 100_000), seen, offset=41)
    assert isinstance(out, Rejected)
    dl = out.deadletter
    assert (dl["reason"], dl["field"], dl["partition"], dl["offset"]) == (
        "end_before_start", "end_ms", 2, 41)
    assert (dl["tenant"], dl["user"]) == ("acme", "alice")
    assert orjson.loads(dl["payload"])["event_id"] == "e1"
    assert len(seen) == 0, "an invalid event must not be remembered as seen"


def test_deadletter_payload_truncated_and_binary_safe():
    out = run(b"\xff" * 10_000, PartitionedSeenIndex())
    assert isinstance(out, Rejected)
    assert out.deadletter["reason"] == "invalid_json"
    payload = out.deadletter["payload"]
    assert len(payload.encode()) <= 4096 and len(payload) == 4096 // 3, "4 KiB of UTF-8"


def test_seen_entry_expires_with_the_horizon():
    seen = PartitionedSeenIndex()
    run(raw(), seen)
    [(partition, logged)] = list(seen.drain())
    [[_, expires, _]] = logged
    assert (expires, partition) == (NOW - 10_000 + 7 * 86_400_000, 2)


def test_the_same_message_read_again_is_processed_again():
    """After a crash, a re-read message was maybe never emitted: it is not a duplicate."""
    seen = PartitionedSeenIndex()
    assert isinstance(run(raw("e1"), seen, offset=5), Accepted)
    assert isinstance(run(raw("e1"), seen, offset=5), Accepted)
    assert isinstance(run(raw("e1"), seen, offset=6), Duplicate)


def policies_with_dnt(kind, name, periods):
    p = PolicySet()
    entry = DntEntry("acme", kind, name, periods)
    p.apply_dnt(entry.key, entry.to_record())
    return p


def test_dnt_user_and_host_dropped_even_when_invalid():
    for kind, name in (("user", "alice"), ("host", "pc-1")):
        policies = policies_with_dnt(kind, name, ((NOW - 1000, None),))
        seen = PartitionedSeenIndex()
        assert process(raw(), key=key_of(raw()), now_ms=NOW, seen=seen, partition=0, offset=1,
                       policies=policies) == Dropped("dnt")
        bad = raw(end_ms=NOW - 100_000)  # invalid: would be a dead letter for anyone else
        assert process(bad, key=key_of(bad), now_ms=NOW, seen=seen, partition=0, offset=2,
                       policies=policies) == Dropped("dnt")
        assert len(seen) == 0, "nothing of a listed subject is remembered"


def test_dnt_late_event_from_a_listed_period_dropped_after_removal():
    policies = policies_with_dnt("user", "alice", ((NOW - 100_000, NOW - 50_000),))
    seen = PartitionedSeenIndex()
    assert process(raw(), key=key_of(raw()), now_ms=NOW, seen=seen, partition=0, offset=1,
                   policies=policies) == Dropped("dnt")  # event NOW-90s..NOW-10s overlaps
    later = raw("e2", start_ms=NOW - 40_000, end_ms=NOW - 30_000)
    assert isinstance(process(later, key=key_of(later), now_ms=NOW, seen=seen, partition=0,
                              offset=2, policies=policies), Accepted)


def test_schedule_clips_and_drops_out_of_hours():
    policies = PolicySet()
    when = dt.datetime.fromtimestamp(NOW / 1000, dt.UTC)
    start = (when - dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][start.weekday()]
    sched = Schedule.build("UTC", [f"{day} {start.hour:02d}:00-{start.hour:02d}:30"])
    policies.apply_schedule("acme/default", sched.to_record())
    t0 = int(start.timestamp() * 1000)
    seen = PartitionedSeenIndex()
    out = process(raw("a", start_ms=t0 + 20 * 60_000, end_ms=t0 + 40 * 60_000), key=ALICE,
                  now_ms=NOW,
                  seen=seen, partition=0, offset=1, policies=policies)
    assert isinstance(out, Accepted)
    assert [(s["start_ms"] - t0, s["end_ms"] - t0) for s in out.spans] == [(1_200_000, 1_800_000)]
    assert sum(ms for _, ms in out.rollup["minutes"]) == 600_000 and out.clipped_ms == 600_000
    outside = process(raw("b", start_ms=t0 + 31 * 60_000, end_ms=t0 + 40 * 60_000), key=ALICE,
                      now_ms=NOW,
                      seen=seen, partition=0, offset=2, policies=policies)
    assert outside == Dropped("out_of_hours")
    own = Schedule.build("UTC", [f"{day} {start.hour:02d}:30-{start.hour:02d}:45"])
    policies.apply_schedule("acme/user:alice", own.to_record())  # the user's own wins
    mine = process(raw("c", start_ms=t0 + 31 * 60_000, end_ms=t0 + 40 * 60_000), key=ALICE,
                   now_ms=NOW,
                   seen=seen, partition=0, offset=3, policies=policies)
    assert isinstance(mine, Accepted) and mine.clipped_ms == 0


def test_dnt_entry_history():
    e = DntEntry("acme", "user", "bob").add(100).remove(200).add(300)
    assert e.periods == ((100, 200), (300, None))
    assert e.listed_at(150) and not e.listed_at(250) and e.listed_at(10**12)
    assert e.overlaps(190, 210) and not e.overlaps(200, 299)
    assert DntEntry.from_record(e.to_record()) == e


def test_payload_is_at_most_4096_utf8_bytes_even_after_replacing_bad_bytes():
    from schemas.records import payload_text
    raw = b"\xff" * 5000  # each bad byte becomes U+FFFD, 3 bytes in UTF-8
    text = payload_text(raw)
    assert len(text.encode()) <= 4096 and set(text) == {"\ufffd"}
    emoji = ("\U0001F600" * 2000).encode()  # 4-byte characters cut mid-way
    assert len(payload_text(emoji).encode()) <= 4096
    assert payload_text(b"plain") == "plain"

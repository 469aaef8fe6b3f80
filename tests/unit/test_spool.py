import itertools
import multiprocessing
import os
import signal

from collector.spans import Identity, Sample, SpanBuilder
from collector.spool import Spool

IDENT = Identity(tenant="acme", host="pc", user="alice", client_version="t")


def events(n, start=1_795_000_000_000):
    counter = itertools.count()
    b = SpanBuilder(IDENT, new_id=lambda: f"id{next(counter)}")
    out = []
    for i in range(n + 1):
        out += b.feed(Sample(at_ms=start + i * 1000, app=f"app{i}"))
    return out


def test_put_pending_ack_and_idempotent_put(tmp_path):
    spool = Spool(tmp_path / "s.db")
    evs = events(5)
    assert spool.put(evs, next_seq=5) == 5
    assert spool.put(evs[:2]) == 0, "the same event_id is stored once"
    pending = spool.pending(3)
    assert [p.event for p in pending] == evs[:3]
    assert [p.event.event_id for p in spool.pending(10, exclude={pending[0].row_id})] == \
        [e.event_id for e in evs[1:]]
    spool.ack([p.row_id for p in pending])
    assert len(spool) == 2 and spool.next_seq == 5


def test_bounded_size_drops_oldest_and_counts(tmp_path):
    spool = Spool(tmp_path / "s.db", max_events=3)
    evs = events(5)
    spool.put(evs)
    assert [p.event.event_id for p in spool.pending(10)] == [e.event_id for e in evs[2:]]
    assert spool.dropped == 2
    spool.put(events(1, start=1_796_000_000_000))
    assert spool.dropped == 3


def _writer(path, n):
    spool = Spool(path)
    spool.put(events(n), next_seq=n)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no cleanup: as after kill -9


def test_survives_a_killed_writer_and_reopens(tmp_path):
    path = tmp_path / "s.db"
    proc = multiprocessing.get_context("fork").Process(target=_writer, args=(path, 7))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    reopened = Spool(path)
    assert len(reopened) == 7 and reopened.next_seq == 7
    assert [p.event.app for p in reopened.pending(10)] == [f"app{i}" for i in range(7)]


def test_meta_values(tmp_path):
    spool = Spool(tmp_path / "s.db")
    assert spool.get_meta("pause_since") == 0
    spool.set_meta("pause_since", 42)
    assert Spool(tmp_path / "s.db").get_meta("pause_since") == 42


def _count(spool):
    return spool._db.execute("SELECT count(*) FROM events").fetchone()[0]  # noqa: SLF001


def test_the_kept_length_follows_puts_duplicates_drops_acks_and_a_reopen(tmp_path):
    spool = Spool(tmp_path / "s.db", max_events=4)
    evs = events(6)
    spool.put(evs[:3])
    spool.put(evs[1:3])  # duplicates: nothing new
    assert len(spool) == _count(spool) == 3
    spool.put(evs[3:])  # past the bound: the oldest go
    assert len(spool) == _count(spool) == 4
    rows = spool.pending(10)
    spool.ack([rows[0].row_id, rows[0].row_id, 10_000])  # twice, and one that is not there
    assert len(spool) == _count(spool) == 3
    spool.close()
    assert len(Spool(tmp_path / "s.db", max_events=4)) == 3


def test_only_the_ack_is_not_synced_and_puts_stay_durable(tmp_path):
    spool = Spool(tmp_path / "s.db")
    statements = []
    spool._db.set_trace_callback(statements.append)  # noqa: SLF001
    spool.put(events(2))
    assert not any("synchronous" in s for s in statements), "a put is synced (FULL)"
    statements.clear()
    spool.ack([p.row_id for p in spool.pending(1)])
    syncs = [s for s in statements if "synchronous" in s or s.startswith("DELETE")]
    assert syncs == ["PRAGMA synchronous=NORMAL", "DELETE FROM events WHERE id = 1",
                     "PRAGMA synchronous=FULL"], statements
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # noqa: SLF001 - FULL

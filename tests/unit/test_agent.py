"""The collector loop's logic with fakes for probe, input, clock and Kafka (no services)."""

from pathlib import Path

import pytest

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.control import Request
from collector.probes import WindowInfo
from collector.spool import Spool, SpooledEvent

T0 = 1_795_000_000.0


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


class Probe:
    def __init__(self):
        self.window = WindowInfo("code", "/usr/bin/code", "a.py", 1)

    def active_window(self):
        return self.window

    def close(self):
        pass


class Idle:
    def __init__(self):
        self.seconds = 0.0

    def idle_seconds(self):
        return self.seconds


class FakePublisher:
    """Stands in for Kafka: keeps callbacks until the test decides the outcome."""

    def __init__(self):
        self.sent, self.waiting = [], []

    def send(self, event, on_result=None):
        self.sent.append(event)
        self.waiting.append(on_result)

    def settle(self, ok=True):
        waiting, self.waiting = self.waiting, []
        for cb in waiting:
            cb(ok)

    def poll(self, timeout=0):
        pass

    def flush(self, timeout=0):
        return 0


class MemorySpool:
    """The spool's contract in memory: events kept by id until acked, counters in a dict."""

    def __init__(self, max_events=500_000):
        self.max_events = max_events
        self._events: dict[int, object] = {}
        self._ids: set[str] = set()
        self._meta: dict[str, int] = {}
        self._row = 0

    @property
    def dropped(self):
        return self._meta.get("dropped", 0)

    @property
    def next_seq(self):
        return self._meta.get("next_seq", 0)

    def put(self, events, *, next_seq=None):
        added = 0
        for event in events:
            if event.event_id not in self._ids:
                self._row += 1
                self._events[self._row] = event
                self._ids.add(event.event_id)
                added += 1
        if next_seq is not None:
            self._meta["next_seq"] = next_seq
        excess = len(self._events) - self.max_events
        for row_id in sorted(self._events)[:max(excess, 0)]:
            del self._events[row_id]
            self._meta["dropped"] = self.dropped + 1
        return added

    def pending(self, limit, *, exclude=frozenset()):
        rows = [SpooledEvent(i, e) for i, e in sorted(self._events.items()) if i not in exclude]
        return rows[:max(limit, 0)]

    def ack(self, row_ids):
        for row_id in row_ids:
            self._events.pop(row_id, None)

    def get_meta(self, key):
        return self._meta.get(key, 0)

    def set_meta(self, key, value):
        self._meta[key] = value

    def __len__(self):
        return len(self._events)


@pytest.fixture(params=["memory", "sqlite"])
def rig(request, tmp_path: Path):
    """The loop with an in-memory spool (its protocol is all the loop needs) and, to
    show the fake behaves as the real one, with the SQLite spool."""
    clock, probe, idle, pub = Clock(), Probe(), Idle(), FakePublisher()
    spool = MemorySpool() if request.param == "memory" else Spool(tmp_path / "spool.db")
    settings = CollectorSettings(user="alice", host="pc", idle_threshold=180)
    collector = Collector(settings, probe=probe, idle=idle, spool=spool, publisher=pub,
                          clock=clock)

    def seconds(n):
        for _ in range(n):
            collector.tick()
            clock.now += 1

    return collector, clock, probe, idle, pub, spool, seconds


def test_spans_are_spooled_before_sending_and_removed_only_on_ack(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(5)
    probe.window = WindowInfo("firefox", "/usr/bin/firefox", "News", 2)
    seconds(2)
    assert len(spool) == 1 and pub.sent == []
    collector.pump()
    assert [e.app for e in pub.sent] == ["code"]
    collector.pump()
    assert len(pub.sent) == 1, "an event in flight is not sent twice"
    pub.settle(ok=False)
    collector.pump()
    assert len(spool) == 1 and len(pub.sent) == 2, "a failed send stays spooled and is retried"
    pub.settle(ok=True)
    collector.pump()
    assert len(spool) == 0 and collector.counters.published == 1
    assert len(pub.sent) == 2, "an acknowledged event is never sent again"


def test_idle_threshold_marks_samples_idle(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(3)
    idle.seconds = 200
    seconds(3)
    idle.seconds = 0
    seconds(2)
    spans = [p.event for p in spool.pending(10)]
    assert [(e.idle, e.end_ms - e.start_ms) for e in spans] == [(False, 3000), (True, 3000)]


def test_pause_closes_the_open_span_records_nothing_and_ends_by_itself(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(4)
    pause = collector.handle(Request("pause", 10))
    assert pause["paused"] is True and pause["paused_until_ms"] == int((T0 + 4 + 10) * 1000)
    seconds(10)
    assert collector.status()["paused"] is False
    seconds(3)
    collector.shutdown()
    spans = [(e.start_ms, e.end_ms) for e in (p.event for p in spool.pending(10))]
    pause_start, pause_end = int((T0 + 4) * 1000), int((T0 + 14) * 1000)
    assert spans[0] == (int(T0 * 1000), pause_start)
    assert all(end <= pause_start or start >= pause_end for start, end in spans)
    assert len(spans) == 2


def test_pause_survives_a_restart(rig, tmp_path):
    collector, clock, probe, idle, pub, spool, seconds = rig
    collector.handle(Request("pause"))
    again = Collector(collector.settings, probe=probe, idle=idle, spool=spool, publisher=pub,
                      clock=clock)
    assert again.status()["paused"] is True and again.status()["paused_until_ms"] is None
    assert again.handle(Request("resume"))["paused"] is False


def test_vanished_window_is_a_skipped_sample(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(3)
    window, probe.window = probe.window, None
    seconds(1)
    probe.window = window
    seconds(2)
    assert collector.counters.skipped == 1
    assert len(spool) == 0, "one skipped sample does not end the span"
    collector.shutdown()
    assert [(p.event.end_ms - p.event.start_ms) for p in spool.pending(5)] == [5000]


def test_metrics_text_counts_what_the_status_says(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(5)
    probe.window = WindowInfo("firefox", "/usr/bin/firefox", "News", 2)
    seconds(2)
    text = collector.metrics_text()
    assert 'deskpulse_collector_samples{tenant="default",host="pc"} 7' in text
    assert 'deskpulse_collector_spooled{tenant="default",host="pc"} 1' in text
    assert 'deskpulse_collector_paused{tenant="default",host="pc"} 0' in text
    assert "# TYPE deskpulse_collector_published counter" in text


def test_a_sample_taken_while_the_pause_is_being_lifted_does_not_start_inside_it(rig):
    """The loop reads its clock under the lock: a resume cannot come between the two, so
    the first span after it never starts before it (it did, by the loop's delay)."""
    import threading
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(3)
    since = collector.set_pause(None).since_ms
    seconds(3)
    resumer: list[threading.Thread] = []

    def racing_clock():
        value = clock.now
        if threading.current_thread().name == "ticker" and not resumer:
            clock.now += 1  # the resume, a second after the loop read its clock
            resumer.append(threading.Thread(target=collector.resume, name="resumer"))
            resumer[0].start()
            resumer[0].join(0.5)  # (with the lock held, it cannot: go on after a while)
        return value
    collector._clock = racing_clock
    ticker = threading.Thread(target=collector.tick, name="ticker")
    ticker.start()
    ticker.join(5)
    resumer[0].join(5)
    assert collector.pause is None
    resumed_ms = int(clock.now * 1000)  # the resume's moment (the clock stood still since)
    seconds(3)
    collector.shutdown()
    after = [e for e in (p.event for p in spool.pending(10)) if e.end_ms > since]
    assert after and all(e.start_ms >= resumed_ms for e in after), \
        [(e.start_ms, resumed_ms) for e in after]


def test_a_sample_taken_while_the_pause_is_being_set_does_not_cross_it(rig):
    """The run loop samples on its own thread: the pause's moment is taken under the lock."""
    import threading
    collector, clock, probe, idle, pub, spool, seconds = rig
    seconds(3)
    read, ticked = threading.Event(), threading.Event()

    def racing_clock():
        value = clock.now
        if threading.current_thread().name == "pauser" and not read.is_set():
            read.set()  # the pause has read its time; let the loop sample in between
            ticked.wait(1.0)  # (with the lock held, the loop cannot: go on after a while)
        return value
    collector._clock = racing_clock
    pauser = threading.Thread(target=collector.set_pause, args=(None,), name="pauser")
    pauser.start()
    assert read.wait(5)
    clock.now += 1  # the loop's next sample, a second later
    ticker = threading.Thread(target=collector.tick)
    ticker.start()
    ticker.join(0.5)
    ticked.set()
    pauser.join(5)
    ticker.join(5)
    since = collector.pause.since_ms
    collector.shutdown()
    spans = [p.event for p in spool.pending(10)]
    assert spans and all(e.end_ms <= since for e in spans), [(e.end_ms, since) for e in spans]


def test_the_spool_is_read_only_when_it_may_hold_something_to_send(rig):
    collector, clock, probe, idle, pub, spool, seconds = rig
    reads = []
    real_pending = spool.pending
    spool.pending = lambda *a, **kw: reads.append(1) or real_pending(*a, **kw)
    collector.pump()
    assert len(reads) == 1, "at the start the spool may hold events of an earlier run"
    for _ in range(5):  # the same window: nothing closes, nothing to send
        seconds(1)
        collector.pump()
    assert len(reads) == 1, "nothing new: no read"
    probe.window = WindowInfo("firefox", "/usr/bin/firefox", "News", 2)
    seconds(1)
    collector.pump()
    assert len(reads) == 2 and len(pub.sent) == 1
    collector.pump()
    assert len(reads) == 2, "the one event is in flight: nothing else to send"
    pub.settle(ok=False)
    collector.pump()
    assert len(reads) == 3 and len(pub.sent) == 2, "a failed send is read and sent again"
    collector.set_pause(60)  # the pause closes the open span (from the control thread)
    collector.pump()
    assert len(pub.sent) == 3 and pub.sent[-1].app == "firefox"

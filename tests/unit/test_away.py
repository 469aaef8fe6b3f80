"""Away time (locked screen, suspend): the pure state and the collector loop's use of it."""

from pathlib import Path

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.session.lock import AwayState
from collector.spool import Spool
from tests.unit.test_agent import T0, Clock, FakePublisher, Idle, Probe


def test_away_state_cuts_once_per_period_and_holds_while_any_reason_does():
    clock = Clock()
    state = AwayState(clock)
    assert not state.away() and state.take_cut() is None
    state.set("locked", True)
    clock.now += 5
    state.set("asleep", True)  # already away: the period began at the lock
    assert state.away() and state.take_cut() == int(T0 * 1000)
    assert state.take_cut() is None, "a cut is taken once"
    state.set("locked", False)
    assert state.away(), "still asleep"
    state.set("asleep", False)
    assert not state.away() and state.take_cut() is None


def test_a_short_suspend_between_two_samples_still_cuts_the_span():
    clock = Clock()
    state = AwayState(clock)
    state.set("asleep", True)
    state.set("asleep", False)  # over before the collector looked
    assert not state.away() and state.take_cut() == int(T0 * 1000)


def _collector(tmp_path: Path, away):
    clock, probe, pub = Clock(), Probe(), FakePublisher()
    spool = Spool(tmp_path / "spool.db")
    collector = Collector(CollectorSettings(user="alice", host="pc"), probe=probe, idle=Idle(),
                          spool=spool, publisher=pub, clock=clock, away=away)
    return collector, clock, spool


def test_locked_time_ends_the_span_and_records_nothing(tmp_path):
    state_clock = Clock()
    state = AwayState(state_clock)
    collector, clock, spool = _collector(tmp_path, state)
    for _ in range(5):
        collector.tick()
        clock.now += 1
    state_clock.now = clock.now - 0.5  # locked half a second after the last sample
    state.set("locked", True)
    for _ in range(30):  # 30 s locked: the probe still sees the window (X11)
        collector.tick()
        clock.now += 1
    state.set("locked", False)
    for _ in range(3):
        collector.tick()
        clock.now += 1
    events = [p.event for p in spool.pending(100)]
    assert [(e.start_ms, e.end_ms) for e in events] == [
        (int(T0 * 1000), int((T0 + 4.5) * 1000))], "the span ended at the lock"
    assert collector.status()["away"] is False
    spool.put(collector.builder.flush(), next_seq=collector.builder.next_seq)
    later = [p.event for p in spool.pending(100)][1:]
    assert later and all(e.start_ms >= (T0 + 35) * 1000 for e in later), \
        "recording again after the unlock, nothing from the locked time"

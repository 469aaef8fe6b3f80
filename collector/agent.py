"""The collector's run loop: probe -> privacy guard -> span builder -> spool -> publisher.

Every closed span is written to the spool (on disk) before anything is sent;
a spooled event is removed only when the broker has acknowledged it. With a sent log
(:mod:`collector.mydata.sentlog`), each acknowledged event is recorded there as it was
sent, before it leaves the spool, and so is every private-mode period: the person's
"my data" page reads them.

Pure: the loop knows its publisher and its spool by the :class:`EventPublisher` and
:class:`EventSpool` protocols (:class:`collector.publisher.Publisher` and
:class:`collector.spool.Spool` in the collector, in-memory fakes in the unit tests), so
importing it loads no Kafka client.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from collector.config import CollectorSettings
from collector.control import ControlLost, Request, pause_seconds
from collector.privacy import Pause, guard
from collector.probes import WindowProbe
from collector.spans import Identity, Sample, SpanBuilder
from deskpulse import __version__
from deskpulse.core.metrics import Metric, prometheus_text
from schemas.activity import ActivityEvent

logger = logging.getLogger(__name__)

PUBLISH_BATCH = 500
#: at most this many events handed to the Kafka client at once (bounded memory in outages)
MAX_IN_FLIGHT = 2_000


class EventPublisher(Protocol):
    """Sends events; each send reports back once, delivered or not (Kafka in the collector)."""

    def send(self, event: ActivityEvent, on_result: Callable[[bool], None] | None = None
             ) -> None: ...

    def poll(self, timeout: float = 0.0) -> None: ...

    def flush(self, timeout: float = 60.0) -> int: ...


class Spooled(Protocol):
    @property
    def row_id(self) -> int: ...

    @property
    def event(self) -> ActivityEvent: ...


class EventSpool(Protocol):
    """Durable events until acknowledged, plus a few counters (SQLite in the collector)."""

    @property
    def dropped(self) -> int: ...

    @property
    def next_seq(self) -> int: ...

    def put(self, events: Iterable[ActivityEvent], *, next_seq: int | None = None) -> int: ...

    def pending(self, limit: int, *, exclude: set[int] | frozenset[int] = frozenset()
                ) -> Sequence[Spooled]: ...

    def ack(self, row_ids: Iterable[int]) -> None: ...

    def get_meta(self, key: str) -> int: ...

    def set_meta(self, key: str, value: int) -> None: ...

    def __len__(self) -> int: ...


class IdleSource(Protocol):
    def idle_seconds(self) -> float: ...


class UrlSource(Protocol):
    def url_for(self, app: str, at_ms: int) -> str: ...


class SentRecord(Protocol):
    """Where acked events and pauses are recorded (:class:`collector.mydata.sentlog.SentLog`)."""

    def record(self, events: list[Any]) -> None: ...

    def paused(self, since_ms: int, until_ms: int | None) -> None: ...

    def resumed(self, at_ms: int) -> None: ...


class AwaySource(Protocol):
    """Screen locked or machine asleep (collector.session.lock)."""

    def away(self) -> bool: ...

    def take_cut(self) -> int | None:
        """When (epoch ms) an away period began that the span builder has not been cut at."""
        ...


@dataclass
class Counters:
    samples: int = 0
    skipped: int = 0
    spooled: int = 0
    published: int = 0
    failed_sends: int = 0


class Collector:
    def __init__(self, settings: CollectorSettings, *, probe: WindowProbe, idle: IdleSource,
                 spool: EventSpool, publisher: EventPublisher, urls: UrlSource | None = None,
                 clock: Callable[[], float] = time.time, away: AwaySource | None = None,
                 session: dict[str, str] | None = None,
                 sent_log: SentRecord | None = None) -> None:
        self.settings = settings
        self.policy = settings.privacy()
        self._probe, self._idle, self._urls = probe, idle, urls
        self._away, self.session = away, dict(session or {})
        self._spool, self._publisher, self._clock = spool, publisher, clock
        self.builder = SpanBuilder(
            Identity(tenant=settings.tenant, host=settings.host, user=settings.user,
                     client_version=f"deskpulse-collector/{__version__}"),
            settings.span_policy(), next_seq=spool.next_seq)
        self.counters = Counters()
        self._in_flight: set[int] = set()
        #: may the spool hold events that are not in flight? (else pump does not read it)
        self._unsent = True
        self._acked: list[int] = []
        self._acked_events: list[Any] = []
        self.sent_log = sent_log
        self._lock = threading.RLock()  # control requests arrive on another thread
        self.pause: Pause | None = self._load_pause()
        self.last_app = ""

    # -- private mode ---------------------------------------------------------------------
    def _load_pause(self) -> Pause | None:
        since, until = self._spool.get_meta("pause_since"), self._spool.get_meta("pause_until")
        if not since:
            return None
        return Pause(since_ms=since, until_ms=until or None)

    def set_pause(self, for_seconds: float | None) -> Pause:
        """Private mode from now, for ``for_seconds`` (bounded, see ``pause_seconds``) or
        until :meth:`resume`. In memory first: a spool that cannot be written still pauses."""
        for_seconds = pause_seconds(for_seconds)
        with self._lock:  # the moment under the lock: no sample of the loop can come after it
            now = self._now_ms()
            self.pause = Pause(since_ms=now, until_ms=None if for_seconds is None
                               else now + int(for_seconds * 1000))
            self._put(self.builder.flush(now))
            self._spool.set_meta("pause_since", now)
            self._spool.set_meta("pause_until", self.pause.until_ms or 0)
            self._note("paused", now, self.pause.until_ms)
        logger.info("private mode on%s", f" for {for_seconds:.0f}s" if for_seconds else "")
        return self.pause

    def resume(self) -> None:
        with self._lock:
            self.pause = None
            self._spool.set_meta("pause_since", 0)
            self._spool.set_meta("pause_until", 0)
            self._note("resumed", self._now_ms())
        logger.info("private mode off")

    def _note(self, what: str, *args: Any) -> None:
        """Tell the sent log; its failure never stops recording or pausing."""
        if self.sent_log is not None:
            try:
                getattr(self.sent_log, what)(*args)
            except (sqlite3.Error, OSError) as exc:
                logger.warning("the sent log could not record %s: %s", what, exc)

    def paused(self, now_ms: int) -> bool:
        with self._lock:
            if self.pause is not None and not self.pause.active(now_ms):
                logger.info("private mode ended by itself")
                self.resume()
            return self.pause is not None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        paused = self.paused(self._now_ms())
        return {
            "paused": paused,
            "paused_since_ms": self.pause.since_ms if self.pause else None,
            "paused_until_ms": self.pause.until_ms if self.pause else None,
            "spooled": len(self._spool),
            "dropped": self._spool.dropped,
            "in_flight": len(self._in_flight),
            "published": self.counters.published,
            "samples": self.counters.samples,
            "user": self.settings.user, "host": self.settings.host,
            "tenant": self.settings.tenant,
            "session": self.session,
            "away": bool(self._away and self._away.away()),
        }

    def waiting(self, limit: int) -> list[ActivityEvent]:
        """The oldest events still in the spool (sent or not yet), at most ``limit``."""
        with self._lock:
            return [s.event for s in self._spool.pending(limit)]

    def now_ms(self) -> int:
        return self._now_ms()

    def metrics_text(self) -> str:
        """The status as Prometheus text (for node_exporter's textfile collector)."""
        status = self.status()
        labels = {"tenant": status["tenant"], "host": status["host"]}
        metrics = [Metric(f"deskpulse_collector_{name}", int(status[name]),
                          "counter" if name in ("samples", "published", "dropped") else "gauge",
                          labels)
                   for name in ("samples", "published", "spooled", "dropped", "in_flight")]
        metrics.append(Metric("deskpulse_collector_paused", int(bool(status["paused"])),
                              "gauge", labels))
        return prometheus_text(metrics)

    def handle(self, req: Request) -> dict[str, Any]:
        """A control socket request (already validated by ``collector.control``)."""
        if req.cmd == "pause":
            self.set_pause(req.for_s)
        elif req.cmd == "resume":
            self.resume()
        return self.status()

    # -- sampling -------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def tick(self) -> None:
        """Take one sample and spool whatever spans it closed."""
        with self._lock:
            # the moment under the lock, as pause and resume take theirs: a resume cannot come
            # between it and the paused check, so no span is dated before the resume
            now = self._now_ms()
            cut = self._away.take_cut() if self._away is not None else None
            if cut is not None:  # locked or asleep since `cut`: the span ended there
                self.counters.spooled += self._put(self.builder.flush(min(cut, now)))
            if self.paused(now) or (self._away is not None and self._away.away()):
                events = self.builder.flush(now)
            else:
                sample = self._sample(now)
                if sample is None:
                    return  # skipped sample: the next one decides (gap rules of the builder)
                guarded = guard(sample, self.policy, paused=False)
                if guarded is None:  # outside the local working hours
                    events = self.builder.flush(now)
                else:
                    self.counters.samples += 1
                    events = self.builder.feed(guarded)
            if events:
                self.counters.spooled += self._put(events)

    def _put(self, events: list[ActivityEvent]) -> int:
        added = self._spool.put(events, next_seq=self.builder.next_seq)
        self._unsent = True
        return added

    def _sample(self, now: int) -> Sample | None:
        window = self._probe.active_window()
        if window is None:
            self.counters.skipped += 1
            return None
        self.last_app = window.app
        idle = self._idle.idle_seconds() >= self.settings.idle_threshold
        url = self._urls.url_for(window.app, now) if self._urls else ""
        return Sample(at_ms=now, app=window.app, exe=window.exe, title=window.title, url=url,
                      idle=idle)

    # -- publishing -----------------------------------------------------------------------
    def pump(self) -> None:
        """Forget the acknowledged events, then send spooled ones that are not in flight."""
        self._forget_acked()  # before choosing what to send: an acked row is never resent
        room = min(PUBLISH_BATCH, MAX_IN_FLIGHT - len(self._in_flight))
        with self._lock:  # a pause's put on the control thread is not lost between the two
            batch = self._spool.pending(room, exclude=self._in_flight) \
                if room > 0 and self._unsent else ()
            if room > 0 and len(batch) < room:
                self._unsent = False  # all there is goes in flight now: no read until a change
        for spooled in batch:
            self._in_flight.add(spooled.row_id)
            self._publisher.send(spooled.event,
                                 on_result=lambda ok, rid=spooled.row_id, ev=spooled.event:
                                 self._done(rid, ok, ev))
        self._publisher.poll(0)
        self._forget_acked()

    def _forget_acked(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            sent, self._acked_events = self._acked_events, []
            self._note("record", sent)  # first: a crash between the two resends, never hides
            self._spool.ack(acked)

    def _done(self, row_id: int, delivered: bool, event: Any = None) -> None:
        self._in_flight.discard(row_id)
        if delivered:
            self._acked.append(row_id)
            if event is not None:
                self._acked_events.append(event)
            self.counters.published += 1
        else:
            self.counters.failed_sends += 1  # stays in the spool, sent again later
            self._unsent = True

    def run(self, stop: threading.Event,
            housekeeping: Callable[[], None] | None = None,
            control_alive: Callable[[], bool] | None = None) -> None:
        """Sample and publish until ``stop``; ``housekeeping`` runs about once a minute.

        ``control_alive`` is asked before every sample: when the control socket no longer
        serves, private mode could not be switched on, so nothing more is recorded
        (:class:`ControlLost`; the caller shuts down and exits non-zero).
        """
        interval = self.settings.poll_interval
        next_tick = time.monotonic()
        next_housekeeping = next_tick + 60
        while not stop.is_set():
            if control_alive is not None and not control_alive():
                raise ControlLost("the control socket stopped serving; the collector stops "
                                  "rather than record without a way to pause it")
            self.tick()
            self.pump()
            if housekeeping is not None and time.monotonic() >= next_housekeeping:
                housekeeping()
                next_housekeeping = time.monotonic() + 60
            next_tick += interval
            delay = next_tick - time.monotonic()
            if delay < 0:  # fell behind (suspend, slow display): don't burst to catch up
                next_tick, delay = time.monotonic(), 0
            stop.wait(delay)
        self.shutdown()

    def shutdown(self, flush_timeout: float = 10.0) -> None:
        with self._lock:
            self._put(self.builder.flush())
        self.pump()
        self._publisher.flush(flush_timeout)
        self.pump()
        logger.info("collector stopped; %d events wait in the spool", len(self._spool))

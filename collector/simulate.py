"""A simulated fleet that goes through the collector's real span builder and publisher."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.publisher import Publisher
from collector.spans import Identity, SpanBuilder
from collector.synthetic import day_samples, fleet
from deskpulse import __version__
from deskpulse.core.settings import KafkaSettings
from schemas.activity import ActivityEvent

logger = logging.getLogger(__name__)


def last_weekday(today: dt.date) -> dt.date:
    """The most recent Monday-Friday strictly before ``today``."""
    day = today - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


@dataclass
class SimulationResult:
    day: dt.date
    collectors: int
    events: int = 0
    acked: int = 0
    #: (user, app) -> [active_ms, idle_ms] of what was published: the ground truth
    totals: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def record(self, event: ActivityEvent) -> None:
        slot = self.totals.setdefault((event.user, event.app), [0, 0])
        slot[1 if event.idle else 0] += event.end_ms - event.start_ms

    def user_totals(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = {}
        for (user, _), (active, idle) in self.totals.items():
            slot = out.setdefault(user, [0, 0])
            slot[0] += active
            slot[1] += idle
        return {u: (a, i) for u, (a, i) in out.items()}


def simulate(kafka: KafkaSettings, *, collectors: int, tenant: str = "default",
             day: dt.date | None = None, seed: int = 7, hours: float = 8.5,
             progress: Callable[[int, int, int], None] | None = None) -> SimulationResult:
    """Simulate ``collectors`` people over one working day and publish their spans."""
    day = day or last_weekday(dt.datetime.now(dt.UTC).date())
    day_start_ms = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
                       * 1000)
    publisher = Publisher(kafka)
    result = SimulationResult(day=day, collectors=collectors)
    for index, persona in enumerate(fleet(collectors, seed)):
        builder = SpanBuilder(Identity(tenant=tenant, host=persona.host, user=persona.user,
                                       client_version=f"deskpulse-sim/{__version__}"))
        events: list[ActivityEvent] = []
        for sample in day_samples(persona, day_start_ms, hours=hours):
            events.extend(builder.feed(sample))
        events.extend(builder.flush())
        for event in events:
            result.record(event)
        result.events += publisher.publish(events)
        if progress:
            progress(index + 1, collectors, result.events)
    pending = publisher.flush(120)
    result.acked = publisher.acked
    if pending or publisher.failed:
        logger.warning("%d events not acknowledged, %d failed", pending, publisher.failed)
    return result

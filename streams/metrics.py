"""Stream worker counters, exposed for Prometheus on ``/metrics`` and summed on ``/health``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from streams.core import Accepted, Dropped, Duplicate, Outcome, Rejected


class StreamMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_in = Counter("deskpulse_stream_events", "Activity messages read",
                                 registry=self.registry)
        self.outcomes = Counter("deskpulse_stream_outcomes", "What became of each message",
                                ["outcome"], registry=self.registry)
        self.deadletters = Counter("deskpulse_stream_deadletters",
                                   "Messages sent to the dead-letter topic, per reason",
                                   ["reason"], registry=self.registry)
        self.clipped_ms = Counter("deskpulse_stream_clipped_milliseconds",
                                  "Time removed by working-hour schedules",
                                  registry=self.registry)
        self.clipped_events = Counter("deskpulse_stream_clipped_events",
                                      "Events shortened by working-hour schedules",
                                      registry=self.registry)
        self.totals = {"events_in": 0, "accepted": 0, "duplicates": 0, "deadlettered": 0,
                       "dropped_dnt": 0, "dropped_out_of_hours": 0, "clipped": 0}

    def observe(self, outcome: Outcome) -> None:
        t = self.totals
        t["events_in"] += 1
        self.events_in.inc()
        if isinstance(outcome, Accepted):
            t["accepted"] += 1
            self.outcomes.labels("accepted").inc()
            if outcome.clipped_ms:
                t["clipped"] += 1
                self.clipped_events.inc()
                self.clipped_ms.inc(outcome.clipped_ms)
        elif isinstance(outcome, Rejected):
            t["deadlettered"] += 1
            self.outcomes.labels("deadlettered").inc()
            self.deadletters.labels(outcome.deadletter.reason).inc()
        elif isinstance(outcome, Duplicate):
            t["duplicates"] += 1
            self.outcomes.labels("duplicate").inc()
        elif isinstance(outcome, Dropped):
            t[f"dropped_{outcome.reason}"] += 1
            self.outcomes.labels(f"dropped_{outcome.reason}").inc()

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)

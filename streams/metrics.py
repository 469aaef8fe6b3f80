"""Stream worker counters, exposed for Prometheus on ``/metrics`` and summed on ``/health``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from streams.batch import Tally

_TOTAL_NAMES = {"duplicate": "duplicates"}


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
        self.device_auth = Counter(
            "deskpulse_stream_device_auth",
            "Device authentication of activity messages, per tenant mode (enforce, warn) and "
            "result (verified, or why not: with warn the event was accepted anyway)",
            ["mode", "result"], registry=self.registry)
        self.totals = {"events_in": 0, "accepted": 0, "duplicates": 0, "deadlettered": 0,
                       "dropped_dnt": 0, "dropped_out_of_hours": 0, "clipped": 0,
                       "auth_verified": 0, "auth_warned": 0}

    def add(self, tally: Tally) -> None:
        """Count one processed batch (called by the ingest thread; counters are thread-safe)."""
        t = self.totals
        t["events_in"] += tally.events
        self.events_in.inc(tally.events)
        for outcome, n in tally.outcomes.items():
            t[_TOTAL_NAMES.get(outcome, outcome)] += n
            self.outcomes.labels(outcome).inc(n)
        for reason, n in tally.deadletter_reasons.items():
            self.deadletters.labels(reason).inc(n)
        for (mode, result), n in tally.auth_results.items():
            self.device_auth.labels(mode, result).inc(n)
            if result == "verified":
                t["auth_verified"] += n
            elif mode == "warn":
                t["auth_warned"] += n
        if tally.clipped_events:
            t["clipped"] += tally.clipped_events
            self.clipped_events.inc(tally.clipped_events)
            self.clipped_ms.inc(tally.clipped_ms)

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)

"""One simulated collector for the fault matrix: ``python -m tests.faults.fleet``.

It uses the collector's durable path (the real spool and publisher): every event is
spooled first and forgotten only when the broker acknowledged it. Its events are a
function of (collector, sequence number), and the spool keeps the next sequence
number, so after any crash the test knows exactly which events must exist:
``c<collector>-<seq>`` for every seq below the spool's ``next_seq``, each lasting
:func:`duration_ms`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from collector.publisher import Publisher
from collector.spool import Spool
from deskpulse.core.settings import KafkaSettings
from schemas.activity import ActivityEvent


def duration_ms(seq: int) -> int:
    return 1_000 + (seq % 50) * 1_000


def event(collector: int, seq: int, now_ms: int) -> ActivityEvent:
    return ActivityEvent(schema="deskpulse.activity.v1", event_id=f"c{collector}-{seq}",
                         tenant="faults", host=f"h{collector}", user=f"u{collector}",
                         app=("code", "firefox", "slack")[seq % 3],
                         start_ms=now_ms - duration_ms(seq), end_ms=now_ms, seq=seq)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--collector", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--stop-file", type=Path, required=True)
    args = parser.parse_args()
    spool = Spool(args.spool)
    publisher = Publisher(KafkaSettings(bootstrap=args.bootstrap),
                          overrides={"message.timeout.ms": 600_000})
    in_flight: set[int] = set()
    acked: list[int] = []

    def done(row_id: int, ok: bool) -> None:
        in_flight.discard(row_id)
        if ok:
            acked.append(row_id)

    started, made = time.monotonic(), 0
    stopping_since = None
    while True:
        if stopping_since is None and args.stop_file.exists():
            stopping_since = time.monotonic()
        if stopping_since is None:
            due = int((time.monotonic() - started) * args.rate)
            while made < due:
                seq = spool.next_seq
                spool.put([event(args.collector, seq, int(time.time() * 1000))],
                          next_seq=seq + 1)
                made += 1
        elif not len(spool) or time.monotonic() - stopping_since > 300:
            break
        for spooled in spool.pending(500, exclude=in_flight):
            in_flight.add(spooled.row_id)
            publisher.send(spooled.event, on_result=lambda ok, r=spooled.row_id: done(r, ok))
        publisher.poll(0.05)
        if acked:
            spool.ack(acked)
            acked.clear()
    publisher.flush(30)
    spool.ack(acked)
    spool.close()


if __name__ == "__main__":
    main()

"""The stream worker and the whole pipeline on Apache Kafka beside tansu.

The same measurements as ``tests.bench.streams`` (one worker draining pre-produced events,
no category rules, authentication off) and ``tests.bench.e2e`` (latency at a steady rate,
then a burst), each run on the embedded tansu broker and on one real Apache Kafka (KRaft,
combined broker/controller, ``tests/helpers/kafka.py``), interleaved. Run alone:
``.venv/bin/python -m tests.bench.kafka --events 200000 --seconds 30``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from deskpulse.ops.broker import create_topics
from deskpulse.ops.embedded import EmbeddedStack
from deskpulse.ops.store import StackStore
from tests.bench import e2e, streams
from tests.bench.report import record
from tests.helpers import kafka


def _worker_runs(cluster: kafka.KafkaCluster, events: int, repeat: int) -> dict[str, list]:
    config = streams.Config("plain", streams.without_rules)
    runs: dict[str, list] = {"tansu": [], "kafka": []}
    for i in range(repeat):
        for kind in (("tansu", "kafka") if i % 2 == 0 else ("kafka", "tansu")):
            if kind == "kafka":
                kafka.reset(cluster)
                create_topics(cluster.bootstrap, 4)
                runs[kind].append(streams.measure(events, config, bootstrap=cluster.bootstrap))
            else:
                runs[kind].append(streams.measure(events, config))
            print(f"  worker on {kind}: {runs[kind][-1]['events_per_s']:,} events/s", flush=True)
    return runs


def _pipeline(cluster: kafka.KafkaCluster | None, seconds: float, events: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="deskpulse-bench-kafka-") as tmp:
        if cluster is not None:
            kafka.reset(cluster)
        stack = EmbeddedStack(Path(tmp), kafka_port=0, partitions=4,
                              broker=cluster.bootstrap if cluster else None)
        info = stack.start()
        try:
            store = StackStore(info)
            lat = e2e.latency(store, info.broker, seconds)
            tput = e2e.throughput(store, info.broker, events)
        finally:
            stack.stop()
    print(f"  pipeline on {'kafka' if cluster else 'tansu'}: p50 {lat['p50_ms']} ms, "
          f"p99 {lat['p99_ms']} ms, {tput['events_per_s']:,} events/s", flush=True)
    return {**lat, **tput}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)
    reason = kafka.unavailable()
    if reason:
        print(f"  skipped: {reason}")
        return {}
    with tempfile.TemporaryDirectory(prefix="deskpulse-bench-kafka-") as tmp, \
            kafka.KafkaCluster(Path(tmp), nodes=1) as cluster:
        runs = _worker_runs(cluster, args.events, args.repeat)
        pipe = {"tansu": _pipeline(None, args.seconds, args.events),
                "kafka": _pipeline(cluster, args.seconds, args.events)}
        started = cluster.started_in or 0.0
    med = {k: streams._median(v) for k, v in runs.items()}
    ratios = [k["events_per_s"] / t["events_per_s"]
              for k, t in zip(runs["kafka"], runs["tansu"], strict=True)]
    spread = {k: ", ".join(f"{r['events_per_s']:,}" for r in v) for k, v in runs.items()}
    t, k, pt, pk = med["tansu"], med["kafka"], pipe["tansu"], pipe["kafka"]
    command = (f".venv/bin/python -m tests.bench.kafka --events {args.events} "
               f"--repeat {args.repeat} --seconds {args.seconds:.0f}")
    rows = "\n".join(f"| {name} | {x} | {y} |" for name, x, y in [
        (f"stream worker events/s (median of {args.repeat})", f"{t['events_per_s']:,}",
         f"{k['events_per_s']:,}"),
        ("worker CPU per event (median run)", f"{t['cpu_us_per_event']} us",
         f"{k['cpu_us_per_event']} us"),
        ("end to end latency p50 / p99", f"{pt['p50_ms']:,} / {pt['p99_ms']:,} ms",
         f"{pk['p50_ms']:,} / {pk['p99_ms']:,} ms"),
        ("end to end sustained", f"{pt['events_per_s']:,} events/s",
         f"{pk['events_per_s']:,} events/s")])
    body = f"""## On Apache Kafka beside tansu

The stream worker (as in "Stream worker throughput": {args.events:,} pre-produced events,
4 partitions, no category rules, authentication off) and the embedded pipeline (as in
"End to end": latency at {pipe['tansu']['rate']:,} events/s for {args.seconds:.0f} s, then a
burst of {args.events:,}) on tansu and on Apache Kafka {kafka.KAFKA_VERSION} (KRaft, one
combined broker/controller on loopback, JVM `{' '.join(kafka.JVM_FLAGS)}`, started in
{started:.1f} s), interleaved on this 2-core machine, where the JVM competes with the
worker and sink for the cores. Command:
`{command}`.

| metric | tansu | Apache Kafka |
|---|---|---|
{rows}

Worker runs, events/s: tansu {spread['tansu']}; Kafka {spread['kafka']}; Kafka over tansu
per pair: {', '.join(f'{x:.2f}' for x in ratios)}."""
    record("kafka", body)
    print(body)
    return {"runs": runs, "pipeline": pipe}


if __name__ == "__main__":
    main()

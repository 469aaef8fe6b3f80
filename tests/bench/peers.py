"""Side by side: the stream worker against a bare consume loop and Quix Streams.

One tansu broker per round, one activity topic (4 partitions) holding the same
realistic contract events (:func:`tests.bench.streams.produce_events`: 2,000 people,
0.5 % broken), the bench's policies and 500 category rules published. On that broker,
one after another (each a process of its own, each its own consumer group, in a
rotating order from round to round):

``bare``   confluent-kafka ``consume`` + ``orjson.loads`` per message, nothing else:
           the ceiling of any Python consumer here;
``quix``   Quix Streams 3.28 doing the worker's job (decode, the worker's validator
           with its one-pass fast path,
           key check, minute split, per-key minute sums in memory, span and rollup or
           dead letter produced to Kafka), at least once;
``quix-memory`` the same Quix job with the outputs built and encoded but not written
           (what the job costs Quix without Kafka on the way out);
``worker`` the deskpulse stream worker (``python -m streams.worker``, device
           authentication off): all of that plus do-not-track, working hours,
           category labelling, dedup with its log, outputs acknowledged before the
           offsets are committed.

Absolute numbers drift on a shared machine; the ratios of contenders run next to each
other hold, so those are recorded (median over rounds of the per-round ratio).
Quix lives in a virtualenv of its own (``make bench-peers-venv``: it pins an older
confluent-kafka); without it the round runs the other two. Run alone:
``.venv/bin/python -m tests.bench.peers --events 200000 --rounds 3``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

from deskpulse.core.procs import Child, free_port
from deskpulse.ops.broker import start_broker
from tests.bench.report import record
from tests.bench.streams import _clock, produce_events, with_rules

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("peers_child.py")
QUIX_PYTHON = ROOT / ".venv-quix" / "bin" / "python"
CONTENDERS = ("bare", "quix", "quix-memory", "worker")


def _child(role: str, python: Path | str, bootstrap: str, count: int, tmp: Path) -> dict:
    result = tmp / f"{role}.json"
    proc = Child(role, [str(python), "-P", str(CHILD), role, bootstrap, str(count), str(result)],
                 tmp / f"{role}.log", env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 900
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    code = proc.stop(timeout=10)
    assert code == 0 and result.exists(), f"{role} failed ({code}):\n{proc.log_tail()}"
    out = orjson.loads(result.read_bytes())
    assert out["events"] >= count, f"{role}: {out['events']} of {count} events"
    return {"events_per_s": round(out["events"] / out["seconds"]),
            "cpu_us_per_event": round(out["cpu_seconds"] / out["events"] * 1e6, 2)}


def _worker(bootstrap: str, count: int, tmp: Path) -> dict:
    port = free_port()
    worker = Child("worker", [sys.executable, "-m", "streams.worker", "--bootstrap", bootstrap,
                              "--data-dir", str(tmp / "w"), "--web-port", str(port),
                              "--device-auth", "off"], tmp / "worker.log")
    try:
        run = _clock(f"http://127.0.0.1:{port}/health", count, worker)
    finally:
        worker.stop(timeout=20)
    return {k: run[k] for k in ("events_per_s", "cpu_us_per_event")}


def one_round(count: int, order: list[str]) -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="deskpulse-peers-") as tmp_name:
        tmp = Path(tmp_name)
        bootstrap = f"127.0.0.1:{free_port()}"
        broker = start_broker(bootstrap, tmp / "broker.log", partitions=4)
        try:
            with_rules(bootstrap)
            produce_events(bootstrap, count)
            out = {}
            for role in order:
                if role == "worker":
                    out[role] = _worker(bootstrap, count, tmp)
                else:
                    python = QUIX_PYTHON if role.startswith("quix") else sys.executable
                    out[role] = _child(role, python, bootstrap, count, tmp)
                print(f"  {role}: {out[role]['events_per_s']:,} events/s, "
                      f"{out[role]['cpu_us_per_event']} us CPU/event", flush=True)
            return out
        finally:
            broker.stop(timeout=5)


def _mid(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="tests.bench.peers")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    roles = [r for r in CONTENDERS if not r.startswith("quix") or QUIX_PYTHON.exists()]
    if "quix" not in roles:
        print(f"  (no {QUIX_PYTHON}: `make bench-peers-venv` for Quix Streams)", flush=True)
    rounds = []
    for i in range(args.rounds):
        print(f" round {i + 1}", flush=True)
        rounds.append(one_round(args.events, roles[i % len(roles):] + roles[:i % len(roles)]))

    def ratios(a: str, b: str, metric: str = "events_per_s") -> list[float]:
        return [r[a][metric] / r[b][metric] for r in rounds]

    def runs(role: str, metric: str = "events_per_s") -> str:
        return ", ".join(f"{r[role][metric]:,}" for r in rounds)

    rows = []
    pairs = [("worker", "bare")] + ([("quix", "bare"), ("quix-memory", "bare"), ("worker", "quix"),
                                      ("worker", "quix-memory")] if "quix" in roles
                                     else [])
    for a, b in pairs:
        rs, cpu = ratios(a, b), ratios(a, b, "cpu_us_per_event")
        rows.append(f"| {a} / {b} | {_mid(rs):.2f} ({', '.join(f'{x:.2f}' for x in rs)}) | "
                    f"{_mid(cpu):.2f} ({', '.join(f'{x:.2f}' for x in cpu)}) |")
    table = "\n".join(rows)
    per_role = "\n".join(f"- `{role}`: {runs(role)} events/s; "
                         f"{runs(role, 'cpu_us_per_event')} us of CPU per event"
                         for role in roles)
    ahead = ""
    if "quix" in roles:
        m, mm = _mid(ratios("worker", "quix")), _mid(ratios("worker", "quix-memory"))
        ahead = (f"\n\nThe worker is {'ahead of' if m > 1 else 'BEHIND'} Quix Streams on the same "
                 f"job: {m:.2f}x its throughput (median of the per-round ratios); "
                 f"{mm:.2f}x Quix's with its outputs not even written.")
    body = f"""## Side by side: worker, Quix Streams, bare consumer

{args.rounds} rounds, each on a fresh tansu broker with {args.events:,} realistic events on
4 partitions of one activity topic (the stream bench's events and policies, 500 category
rules); each contender reads them all, one after another, each in its own process and
consumer group, in a rotating order. `bare` is a confluent-kafka `consume` + `orjson.loads`
loop (the ceiling); `quix` is Quix Streams 3.28 doing decode, the worker's validator, the
key check, the minute split, per-key minute sums in memory and producing span + rollup
(or dead letter) per event, at least once (`quix-memory`: the same without writing the
outputs); `worker` is the deskpulse stream worker with
device authentication off, doing all that plus do-not-track, working hours, category
labelling and dedup, outputs acknowledged before offsets are committed. Command:
`.venv/bin/python -m tests.bench.peers --events {args.events} --rounds {args.rounds}`
(Quix: `make bench-peers-venv` first).

| ratio (median of rounds; each round) | events/s | CPU per event |
|---|---|---|
{table}

Per round:
{per_role}{ahead}"""
    record("peers", body)
    print(body)
    out = {f"{role}_events_per_s": _mid([r[role]["events_per_s"] for r in rounds])
           for role in roles}
    return out


if __name__ == "__main__":
    main()

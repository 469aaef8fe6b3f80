"""Stream worker throughput: events/s of one worker on the embedded broker.

Policies are published first (20 people and 5 computers on the do-not-track
list, a tenant default schedule and 200 personal schedules, in three zones),
then 200k realistic events; then one worker starts and the clock runs from its
first processed event to its last. Three configurations, interleaved, each run on a
fresh broker: no category rules with device authentication off (unsigned events,
``--device-auth off``), 500 category rules, and device authentication on (every event
signed with its own person's device key, ``--device-auth enforce``).
``--compare-src DIR`` adds a fourth: the worker of another source tree (e.g. an
export of ``main``) on the unsigned events. Run alone:
``.venv/bin/python -m tests.bench.streams --events 200000``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
from confluent_kafka import Producer

from deskpulse.adapters.policy_topics import publish_records
from deskpulse.core.devices import write_private
from deskpulse.core.procs import Child, free_port
from deskpulse.core.settings import KafkaSettings
from deskpulse.ops.broker import start_broker
from schemas import topics
from schemas.auth import EnrolmentSecret, FleetSigner, attach, new_root_secret
from schemas.categories import Rule, defaults_key
from schemas.policy import DntEntry, Schedule, schedule_key
from tests.bench.health import clock
from tests.bench.report import record

#: window titles: most are the few windows people keep going back to, some are new (a
#: document, a mail, a page never seen before), as in a real fleet
COMMON_TITLES = 500
NEW_TITLE_SHARE = 0.2
APPS = [("code", ""), ("firefox", "https://github.com/x/y"), ("slack", ""),
        ("firefox", "https://docs.python.org/3/library/"), ("zoom", ""), ("thunderbird", "")]


def produce_events(bootstrap: str, count: int, users: int = 2000, seed: int = 1,
                   signer: FleetSigner | None = None) -> None:
    """``count`` events of ``users`` people (signed, each with its person's key, when a
    ``signer`` is given)."""
    rng = random.Random(seed)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                         "compression.type": "lz4", "batch.num.messages": 10000})
    now = int(time.time() * 1000)
    for i in range(count):
        user = f"user{rng.randrange(users)}"
        app, url = APPS[rng.randrange(len(APPS))]
        start = now - rng.randrange(3_600_000, 86_400_000)
        ev = {"schema": "deskpulse.activity.v1", "event_id": f"bench-{i}", "tenant": "acme",
              "host": f"{user}-pc", "user": user, "app": app,
              "title": f"{app} window {rng.randrange(COMMON_TITLES)}"
              if rng.random() >= NEW_TITLE_SHARE else f"{app} document {i}",
              "start_ms": start, "end_ms": start + rng.randrange(1_000, 60_000),
              "client_version": "bench", "seq": i}
        if url:
            ev["url"] = url
        if i % 200 == 199:  # 0.5 % broken by a faulty client: a dead letter each
            ev["end_ms"] = start - 1
        key, value = f"acme/{user}".encode(), orjson.dumps(ev)
        if signer is not None:
            value = attach(value, signer.sign("acme", ev["host"], user, key, value))
        while True:
            try:
                producer.produce(topics.ACTIVITY, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def publish_policies(bootstrap: str, users: int = 2000) -> None:
    """A realistic policy load: a few listed subjects, a default and personal schedules."""
    now = int(time.time() * 1000)
    records: list[tuple[str, str, dict]] = []
    for i in range(20):
        entry = DntEntry("acme", "user", f"user{i * 97}").add(now - 86_400_000, "bench")
        records.append((topics.POLICY_DNT, entry.key, entry.to_record()))
    for i in range(5):
        entry = DntEntry("acme", "host", f"user{i * 131 + 1}-pc").add(now, "bench")
        records.append((topics.POLICY_DNT, entry.key, entry.to_record()))
    default = Schedule.build("Europe/Berlin", ("mon-sun 06:00-22:00",), ())
    records.append((topics.POLICY_SCHEDULE, schedule_key("acme", None), default.to_record()))
    zones = ("America/New_York", "Asia/Kolkata", "Australia/Sydney")
    for i in range(200):
        sched = Schedule.build(zones[i % 3], ("mon-fri 08:00-18:00", "sat 10:00-14:00"), ())
        records.append((topics.POLICY_SCHEDULE, schedule_key("acme", f"user{i * 7 % users}"),
                        sched.to_record()))
    publish_records(KafkaSettings(bootstrap=bootstrap), records)


def category_rules(count: int = 500) -> list[Rule]:
    """``count`` tenant rules: half domains, 30 % apps, 20 % title patterns; a few of each
    match the bench's events (github.com, python.org for docs.python.org, code, slack,
    common titles ending in 400-499), the rest are other sites, tools and tickets."""
    domains, apps, titles = count // 2, count * 3 // 10, count - count // 2 - count * 3 // 10
    rules = [Rule.build("domain", d, "development", "productive", tenant="acme")
             for d in ("github.com", "python.org")]
    rules += [Rule.build("domain", f"site{i}.example.com", f"cat{i % 12}", "neutral",
                         tenant="acme") for i in range(domains - 2)]
    rules += [Rule.build("app", a, "work", "productive", tenant="acme") for a in ("code", "slack")]
    rules += [Rule.build("app", f"tool{i}", f"cat{i % 12}", "neutral", tenant="acme")
              for i in range(apps - 2)]
    rules += [Rule.build("title", r"window 4\d\d$", "focus", "productive", tenant="acme")]
    rules += [Rule.build("title", rf"\bticket-{i}\b", "support", "neutral", tenant="acme")
              for i in range(titles - 1)]
    return rules


def publish_categories(bootstrap: str, rules: list[Rule], defaults: bool) -> None:
    records = [(topics.POLICY_CATEGORY, defaults_key("acme"), {"enabled": defaults})]
    records += [(topics.POLICY_CATEGORY, r.key, r.to_record()) for r in rules]
    publish_records(KafkaSettings(bootstrap=bootstrap), records)


def without_rules(bootstrap: str) -> None:
    """The bench's policies; no category rule at all (the shipped defaults off)."""
    publish_policies(bootstrap)
    publish_categories(bootstrap, [], defaults=False)


def with_rules(bootstrap: str) -> None:
    """The bench's policies plus 500 tenant rules and the shipped defaults."""
    publish_policies(bootstrap)
    publish_categories(bootstrap, category_rules(), defaults=True)


@dataclass(frozen=True)
class Config:
    """One configuration of the bench: its policies, its events, its worker."""

    name: str
    setup: Callable[[str], None]
    signed: bool = False
    worker_args: tuple[str, ...] = ("--device-auth", "off")
    #: run the worker of this source tree instead (None: this one)
    src: Path | None = None


def measure(count: int, config: Config, partitions: int = 4,
            bootstrap: str | None = None) -> dict[str, float]:
    """One run on a fresh tansu broker, or on the (emptied) broker at ``bootstrap``."""
    with tempfile.TemporaryDirectory(prefix="deskpulse-bench-") as tmp_name:
        tmp = Path(tmp_name)
        broker = None
        if bootstrap is None:
            bootstrap = f"127.0.0.1:{free_port()}"
            broker = start_broker(bootstrap, tmp / "broker.log", partitions=partitions)
        try:
            config.setup(bootstrap)
            signer = None
            args = list(config.worker_args)
            if config.signed:
                secret = EnrolmentSecret(new_root_secret())
                write_private(tmp / "device-secret", secret.to_text())
                signer = FleetSigner(secret)
                args += ["--device-auth", "enforce",
                         f"--device-secret-file={tmp / 'device-secret'}"]
            t = time.monotonic()
            produce_events(bootstrap, count, signer=signer)
            print(f"  {config.name}: produced {count} events in {time.monotonic() - t:.1f}s",
                  flush=True)
            port = free_port()
            # another tree: its modules only (-P: not this directory's first)
            env, isolate = (None, []) if config.src is None else (
                {**os.environ, "PYTHONPATH": str(config.src)}, ["-P"])
            worker = Child("worker", [sys.executable, *isolate, "-m", "streams.worker",
                                      "--bootstrap", bootstrap, "--data-dir",
                                      str(tmp / "w"), "--web-port", str(port), *args],
                           tmp / "worker.log", env=env)
            try:
                return _clock(f"http://127.0.0.1:{port}/health", count, worker)
            finally:
                worker.stop(timeout=20)
        finally:
            if broker is not None:
                broker.stop(timeout=5)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _clock(url: str, count: int, worker: Child) -> dict[str, float]:
    cpu_at_start: list[float] = []

    def started(body: dict) -> bool:
        if body.get("events_in", 0) > 0:
            cpu_at_start.append(_cpu_seconds(worker.pid))
            return True
        return False

    clocked = clock(url, worker, "events_in", count, started=started)
    cpu = _cpu_seconds(worker.pid) - cpu_at_start[0]
    body = clocked.body
    timed = count - clocked.counted_before
    return {"events": count, "seconds": clocked.seconds,
            "events_per_s": round(timed / clocked.seconds),
            #: the worker's CPU per event: what other processes on the machine disturb least
            "cpu_us_per_event": round(cpu / timed * 1e6, 2), **{
                k: body.get(k, 0) for k in ("accepted", "dropped_dnt", "dropped_out_of_hours",
                                            "clipped", "deadlettered", "auth_verified")}}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(runs, key=lambda run: run["events_per_s"])[len(runs) // 2]


def _ratios(runs: list[dict[str, float]], base: list[dict[str, float]],
            metric: str = "events_per_s") -> list[float]:
    """Per repeat, ``metric`` of ``runs`` over ``base`` (runs next to each other)."""
    return [run[metric] / ref[metric] for run, ref in zip(runs, base, strict=True)]


def _mid(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs per configuration on a fresh broker each; medians recorded")
    parser.add_argument("--compare-src", type=Path,
                        help="also run the worker of this source tree (e.g. `git archive main`)")
    args = parser.parse_args(argv)
    configs = [Config("plain", without_rules), Config("rules", with_rules),
               Config("signed", without_rules, signed=True)]
    if args.compare_src is not None:
        configs.append(Config("other", without_rules, worker_args=(),
                              src=args.compare_src.resolve()))
    runs: dict[str, list[dict[str, float]]] = {c.name: [] for c in configs}
    for i in range(args.repeat):  # interleaved, in a rotating order: drift hits every one
        for config in configs[i % len(configs):] + configs[:i % len(configs)]:
            runs[config.name].append(measure(args.events, config))
    plain, ruled, signed = runs["plain"], runs["rules"], runs["signed"]
    r, c, a = _median(plain), _median(ruled), _median(signed)
    spread = ", ".join(f"{run['events_per_s']:,}" for run in plain)
    spread_rules = ", ".join(f"{run['events_per_s']:,}" for run in ruled)
    spread_signed = ", ".join(f"{run['events_per_s']:,}" for run in signed)
    verdict = "meets" if r["events_per_s"] >= 30_000 else "MISSES"
    rule_ratios = _ratios(ruled, plain)
    cost = round(100 * (1 - _mid(rule_ratios)), 1)
    rules_verdict = "meets" if cost <= 10 else "MISSES"
    auth_ratios = _ratios(signed, plain)
    auth_cost = round(100 * (1 - _mid(auth_ratios)), 1)
    auth_cpu = _ratios(signed, plain, "cpu_us_per_event")
    auth_cpu_cost = round(100 * (_mid(auth_cpu) - 1), 1)
    auth_verdict = "meets" if auth_cost <= 10 else "MISSES"
    auth_cpu_verdict = "meets" if auth_cpu_cost <= 10 else "MISSES"
    pairs = ", ".join(f"{x:.3f}" for x in auth_ratios)
    cpu_pairs = ", ".join(f"{x:.3f}" for x in auth_cpu)
    cpu = {name: ", ".join(f"{run['cpu_us_per_event']:.1f}" for run in rs)
           for name, rs in runs.items()}
    other_line = today_rows = compare = ""
    if "other" in runs:
        compare = f" --compare-src {args.compare_src}"
        other = runs["other"]
        other_spread = ", ".join(f"{run['events_per_s']:,}" for run in other)
        def pair(rs: list[dict[str, float]], metric: str) -> str:
            return ", ".join(f"{x:.3f}" for x in _ratios(rs, other, metric))
        other_line = (f"\nToday's worker (the tree in `{args.compare_src}`, e.g. `git archive "
                      "main`) on the same unsigned events: "
                      f"{other_spread} events/s, {cpu['other']} us of CPU per event. Over "
                      f"it, per pair: this tree with authentication off, throughput "
                      f"{pair(plain, 'events_per_s')} and CPU {pair(plain, 'cpu_us_per_event')}; "
                      f"with authentication on, throughput {pair(signed, 'events_per_s')} "
                      f"and CPU {pair(signed, 'cpu_us_per_event')}.\n")
        today = _mid(_ratios(signed, other))
        today_cpu = _mid(_ratios(signed, other, "cpu_us_per_event"))
        today_rows = (
            f"\n| events/s, authentication on, over today's worker (median of paired runs) | "
            f"{today:.3f} | within 10 % ({'meets' if today >= 0.9 else 'MISSES'}: "
            f"{round(100 * (1 - today), 1)} % slower) |"
            f"\n| worker CPU per event, authentication on, over today's worker | "
            f"{today_cpu:.3f} | within 10 % ({'meets' if today_cpu <= 1.1 else 'MISSES'}: "
            f"{round(100 * (today_cpu - 1), 1)} % more) |")
    body = f"""## Stream worker throughput

One stream worker draining {r['events']} realistic events pre-produced to 4
partitions of the embedded tansu broker, with policies loaded (20 people and 5
computers on the do-not-track list, a tenant default schedule and 200 personal
schedules in three zones). Per event: decode, do-not-track, validate, dedup,
schedule clipping, category labelling, minute split; outputs (spans, rollups, dead
letters, the dedup log) written as JSON-array messages per batch and partition,
acknowledged by the broker before the source offsets are committed. The clock runs
from the first to the last processed event. Window titles: 80 % of the events show
one of {COMMON_TITLES} usual windows per app, {int(NEW_TITLE_SHARE * 100)} % a title never seen
before. Command:
`.venv/bin/python -m tests.bench.streams --events {r['events']} --repeat {len(plain)}{compare}`.

| metric | value | target |
|---|---|---|
| events/s, one worker, no category rules (median) | {r['events_per_s']:,} | >= 30,000 ({verdict}) |
| events/s, 500 category rules + the shipped defaults (median) | {c['events_per_s']:,} \
| within 10 % ({rules_verdict}: {cost} % slower, median of paired runs) |
| events/s, device authentication on, every event signed (median) | {a['events_per_s']:,} \
| within 10 % ({auth_verdict}: {auth_cost} % slower, median of paired runs) |
| worker CPU per event, authentication on over off (median of paired runs) | \
{_mid(auth_cpu):.3f} | within 10 % ({auth_cpu_verdict}: {auth_cpu_cost} % more) |{today_rows}

Runs without rules: {spread} events/s; with 500 rules: {spread_rules} events/s; with
device authentication on: {spread_signed} events/s ({len(plain)} runs each,
interleaved, each on a fresh broker). Authentication on over off, per pair: throughput
{pairs}; worker CPU per event {cpu_pairs}. CPU per event (us; user + system, every
thread of the worker, which other processes on the machine disturb less than the
clock): off {cpu['plain']}; on {cpu['signed']}; rules {cpu['rules']}.
{other_line}
"Authentication off" is `--device-auth off` with unsigned events (the message key is
still checked against the payload, as always); "on" is `--device-auth enforce` with
the deployment secret, every event signed with its own person's device key
(`FleetSigner`, 2,000 people): per event the worker takes the event's `auth` member,
finds the device key (derived once per credential, cached), and checks an HMAC-SHA256
over the message key and the event without its member ({a['auth_verified']} of
{a['events']} verified in the median run). The HMAC's padded key blocks (with the
message key) are hashed once per device and copied per message (0.7-1.1 us against
1.6 us for `hmac.digest` on a 350-byte event; `_hashlib`'s C HMAC object copied per
message and the builtin SHA-256 measured no faster); the whole check costs about 1.7 us
per event in a loop on this machine (1.9 us before the cache was keyed on the
member's credential bytes; 0.06 us with authentication off), and the member makes
each message ~80 bytes longer. That is about the floor of a per-event HMAC in Python;
the paired runs above are what it costs the whole worker. The signature is a member of
the event rather than a Kafka header because confluent-kafka's `Message.headers()`
alone costs 1.4-2.1 us per message here (against 0.1 us for `value()`): with a header,
authentication cost 15 % (paired runs 0.855, 0.849, 0.831, 0.906, 0.833). "No rules" is the tenant
with the shipped defaults switched off (`deskpulse category defaults off`); the 500
rules are 250 domains, 150 apps and 100 title patterns (`category_rules()` in the
bench), a few of each matching the events.

Device authentication, a second look (issue 21; the check's code unchanged since the
run above). Five more interleaved pairs on a busier machine (load average 1.7-2.6):
CPU per event on over off 1.174, 1.221, 1.265, 1.562, 1.153 (median 1.221), so the
10 % target is still missed. Command:
`.venv/bin/python -m tests.bench.auth_pairs --pairs 5`. The check's parts, timed hot in
one process (timeit, 346-byte event, OpenSSL 3.0.22 with the CPU's SHA instructions):
the cached pads' HMAC (two copies, three updates, digest, hexdigest, compare) 745 ns;
`hmac.digest` in one call 1,496 ns (OpenSSL 3 looks the algorithm up per call);
`_hashlib`'s HMAC object copied 767 ns, `hmac.HMAC` copied 1,011 ns; the built-in
`_sha256` alone 1,217 ns; the key-cache lookup 71 ns and the tail check 165 ns. In the
worker the same lines cost 5-8x that: py-spy on the ingest thread (200k signed events,
250 Hz) put the whole check at 16.3 % of the thread, of it the cache lookup
(`streams/auth.py:78`) 4.4 %, the inner copy 2.8 %, the outer copy 2.2 %, the compare
1.8 %, the update 1.6 % and the tail check ~1.7 %. A person's entry (2,000 people) is
cold in the CPU cache by their next event, so the check waits on memory, not on
instructions. Tried and dropped: a cache without a tuple per event (host, then message
key + credential): its lines took 5-8 % of the thread in two profiled runs, no better;
comparing the hex digest as str and one joined update: within ±20 ns. Meeting 10 %
needs fewer trips to memory per event than Python's hashlib allows: a C function
verifying a batch's HMACs in one call (no well-kept library offers one), or signatures
per batch of events at the collector, which changes the wire contract.

Outcomes of a run: {r['accepted']} accepted ({r['clipped']} clipped to working
hours), {r['dropped_out_of_hours']} out of hours, {r['dropped_dnt']} do-not-track,
{r['deadlettered']} dead letters.

Rule matching: the rules are compiled per tenant (dicts for apps and domain
suffixes, one RE2 set for the title patterns) and cached per (team set, app, domain)
and per (team set, title). Joining 100 title patterns into one Python `re`
alternation cost 7.6 us per event here (26 % of the worker's time); one RE2 set
takes 1.4 us per title. Without the title cache the worker was still 13-16 % slower
with the rules (two runs of 3 and 5 pairs), more than the 0.7 us per event that
labelling cost in a loop: RE2 releases the GIL for each search, and in the worker,
where Faust's loop and the policy follower are other threads, every release is
paid again in waiting to get the GIL back. With the title cache, labelling costs
0.55 us per event against 0.33 us with no rules (in a loop, with a busy second
thread).

History on this machine: 1,466 events/s for a Faust agent emitting one message per
span, rollup and dedup entry; 1,907 with Faust's and aiokafka's per-message debug
records off; 4,185 with batched outputs; 6,600 with the dedup log batched too. A
Faust agent doing nothing but `take_events` reached 9,792/s here, so the hot path
moved to a confluent-kafka batch loop inside the Faust worker (`streams/ingest.py`),
and the core lost its per-event allocations: records are typed dicts (orjson
encodes a dict in 0.25 us against 1.75 us for a frozen dataclass), validation is one
pass over precomputed rules, domains are cached, metrics are counted per batch, and
a zone's UTC-offset changes are computed once per zone and day instead of per event
(clipping was 10 % of the worker's time): ~35k events/s with the rules. Then (issue
21, profiled with py-spy first): decode and every check of the event in one C pass
(a msgspec struct derived from the event's field definitions; anything it does not
certainly accept goes the Python way, which alone gives the dead-letter reasons:
decode + validation from ~4.5 to ~1 us), records built as dict displays and the
accepted outcome no longer a frozen dataclass (~1 us), a schedule's in-hours parts
computed once per UTC day (clipping ~3x cheaper), and the heap frozen with rarer
young collections once the loop runs (CPU per event 0.74-0.90 of before in 4 pairs).
Second round: the output records are msgspec structs derived from the wire's typed
dicts (same fields, same JSON; built in 0.12 us against 0.58 us for a dict display,
encoded by msgspec in C in 0.13 us against 0.19 us for orjson on the dict), a batch's
outputs are cut into messages from a size estimate, so they are encoded about once
(a partition's spans of one batch were often just over the 256 KiB limit: encoded
whole, then again in halves), and device authentication keys its cache on the
credential bytes of the member (no split per event).
Where the time goes now (py-spy, 500 rules, the ingest thread): the pure core ~83 %
(building the records ~18 %, a third of it the minute split; decode and validation
~14 %; encoding the outputs ~10 %; labelling ~8 %, half of it RE2 on titles never
seen; clipping ~6 %; dedup ~5 %; do-not-track ~4 %), reading the batch ~9 %, sending
the outputs and waiting for their acks ~4 %. What is left is spread thin over a dozen
calls per event, none above 1.5 us."""
    record("streams", body)
    print(body)
    return {**r, "events_per_s_with_rules": c["events_per_s"], "rules_cost_pct": cost,
            "events_per_s_signed": a["events_per_s"], "auth_cost_pct": auth_cost,
            "auth_cpu_cost_pct": auth_cpu_cost}


if __name__ == "__main__":
    main()

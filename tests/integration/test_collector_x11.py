"""The real collector on a real X server, publishing to the real tansu broker."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from confluent_kafka import Consumer

from collector.control import request
from collector.spool import Spool
from deskpulse.core.procs import free_port
from deskpulse.ops.broker import start_broker
from schemas import topics
from tests.conftest import wait_for
from tests.helpers.collector_proc import CollectorProc, assert_focused
from tests.integration.xdesktop import x_desktop

pytestmark = pytest.mark.integration

SECRET = "hunter2-Zq9"


@pytest.fixture()
def desktop(tmp_path):
    with x_desktop(tmp_path) as (desk, xvfb):
        desk.xvfb = xvfb
        yield desk


def published(bootstrap: str, user: str, expect_at_least: int = 1, timeout: float = 60) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{user}-{time.time()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topics.ACTIVITY])
    out, raw = [], []
    deadline = time.monotonic() + timeout
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            msgs = [m for m in consumer.consume(500, 0.5) if not m.error()]
            for m in msgs:
                ev = orjson.loads(m.value())
                if ev["user"] == user:
                    out.append(ev)
                    raw.append(m.value())
                    assert m.key() == f"default/{user}".encode()
            if len(out) >= expect_at_least:
                quiet_until = quiet_until or time.monotonic() + 2  # drain what else is there
                if time.monotonic() > quiet_until:
                    break
    finally:
        consumer.close()
    assert len(out) >= expect_at_least, f"only {len(out)} events for {user}"
    return sorted(out, key=lambda e: e["start_ms"])


def test_window_switches_idle_and_a_typed_secret(desktop, broker, tmp_path):
    desktop.open_window("Alpha doc", "Alphaapp")
    desktop.open_window("Beta sheet", "Betaapp")
    desktop.activate("Alpha doc")
    proc = CollectorProc(tmp_path, desktop, broker, user="x-switch")
    proc.start()
    # idle from the server's own counter: nothing in the collector listens to input
    assert proc.status()["session"]["idle"] == "the X server's idle time (MIT-SCREEN-SAVER)"
    time.sleep(3.0)        # no input: idle after 2 s
    desktop.type(SECRET)   # input: active again
    time.sleep(1.5)
    beta_asked = int(time.time() * 1000)
    desktop.activate("Beta sheet")
    beta_seen = proc.sampled_now_ms()  # Beta is focused and sampled by now
    desktop.type(SECRET)
    time.sleep(2.5)
    alpha_asked = int(time.time() * 1000)
    desktop.activate("Alpha doc")
    alpha_seen = proc.sampled_now_ms()  # Alpha is focused and sampled by now
    time.sleep(2.0)
    assert proc.stop() == 0
    events = published(broker, "x-switch", expect_at_least=4)

    apps = [e["app"] for e in events]
    assert apps[0] == "Alphaapp" and "Betaapp" in apps and apps[-1] == "Alphaapp"
    beta = [e for e in events if e["app"] == "Betaapp"]
    assert {e["title"] for e in beta} == {"Beta sheet"}
    assert_focused([(e["start_ms"], e["end_ms"]) for e in beta], beta_asked, beta_seen,
                   alpha_asked, alpha_seen)
    alpha_first = [e for e in events if e["app"] == "Alphaapp" and e["start_ms"] <
                   beta[0]["start_ms"]]
    assert [e.get("idle", False) for e in alpha_first][:2] == [False, True], \
        "idle after 2 s without input"
    assert alpha_first[-1].get("idle", False) is False, "typing made the person active again"
    assert sorted(e.get("seq", 0) for e in events) == list(range(len(events))), \
        "each span published once, numbered in order"
    for e in events:
        assert e["host"] == "xvfb-host" and e["client_version"].startswith("deskpulse-collector/")
        assert e["start_ms"] <= e["end_ms"]

    # the secret appears nowhere: not in Kafka, the spool (db + WAL), the log
    everything = b"".join(orjson.dumps(e) for e in events)
    for path in [*tmp_path.glob("spool.db*"), proc.log, tmp_path / "collector.out"]:
        if path.exists():
            everything += path.read_bytes()
    assert everything and SECRET.encode() not in everything
    assert b"hunter2" not in everything


def test_broker_outage_events_wait_in_the_spool_then_arrive_once(desktop, tmp_path):
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    desktop.open_window("Gamma", "Gammaapp")
    desktop.open_window("Delta", "Deltaapp")
    proc = CollectorProc(tmp_path, desktop, bootstrap, user="x-outage", max_span=2)
    proc.start()
    for title in ("Gamma", "Delta", "Gamma", "Delta"):
        desktop.activate(title)
        time.sleep(1.2)
    spooled = wait_for(lambda: proc.status()["spooled"], 10, "events in the spool")
    assert proc.status()["published"] == 0

    broker = start_broker(bootstrap, tmp_path / "broker.log", partitions=2)
    try:
        wait_for(lambda: proc.status()["spooled"] == 0, 60, "the spool to drain")
        assert proc.stop() == 0
        events = published(bootstrap, "x-outage", expect_at_least=spooled)
        ids = [e["event_id"] for e in events]
        assert len(ids) == len(set(ids)), "every event arrives once"
        left = Spool(proc.spool)
        assert len(left) == 0
        assert len(ids) == proc_published(proc)
    finally:
        broker.stop(timeout=5)


def proc_published(proc: CollectorProc) -> int:
    text = proc.log.read_text()
    assert "collector stopped; 0 events wait in the spool" in text
    return int(sqlite3.connect(proc.spool).execute(
        "SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0])


def test_kill9_loses_nothing_from_the_spool(desktop, broker, tmp_path):
    desktop.open_window("Epsilon", "Epsilonapp")
    desktop.open_window("Zeta", "Zetaapp")
    dead_port = free_port()
    proc = CollectorProc(tmp_path, desktop, f"127.0.0.1:{dead_port}", user="x-kill9")
    proc.start()
    for title in ("Epsilon", "Zeta", "Epsilon", "Zeta"):
        desktop.activate(title)
        time.sleep(1.0)
    wait_for(lambda: proc.status()["spooled"] >= 3, 10, "spooled events")
    proc.kill9()
    before = {p.event.event_id for p in Spool(proc.spool).pending(10_000)}
    assert len(before) >= 3

    proc.env["DESKPULSE_BOOTSTRAP"] = broker  # restart, now with a reachable broker
    proc.start()
    wait_for(lambda: proc.status()["spooled"] == 0, 60, "the spool to drain")
    assert proc.stop() == 0
    events = published(broker, "x-kill9", expect_at_least=len(before))
    after = {e["event_id"] for e in events}
    assert before <= after
    # each id is the run's id and the span's seq (collector/spans.py, event_id): the two
    # runs drew different run ids, and the sequence went on across the kill (an event sent
    # before the kill but not yet deleted from the spool is sent again: the same id)
    unique = list({e["event_id"]: e for e in events}.values())
    ids = [uuid.UUID(e["event_id"]) for e in unique]
    assert all(u.version == 8 and u.hex == e["event_id"] for u, e in zip(ids, unique, strict=True))
    seqs = [e.get("seq", 0) for e in unique]  # seq 0 is the default: left out on the wire
    assert [u.int & ((1 << 62) - 1) for u in ids] == seqs
    assert sorted(seqs) == list(range(len(unique))), "one id per span, none skipped"
    assert len({u.int >> 64 for u in ids}) == 2, "one run id per start"


def test_pause_records_nothing_and_resumes_by_itself(desktop, broker, tmp_path):
    desktop.open_window("Eta", "Etaapp")
    desktop.open_window("Theta", "Thetaapp")
    desktop.activate("Eta")
    proc = CollectorProc(tmp_path, desktop, broker, user="x-pause")
    proc.start()
    time.sleep(1.5)
    state = request(proc.socket, {"cmd": "pause", "for_s": 3})
    assert state["paused"] is True
    until = state["paused_until_ms"]
    since = until - 3000
    desktop.activate("Theta")  # switched during the pause: must not be recorded
    time.sleep(1.0)
    assert proc.status()["paused"] is True
    wait_for(lambda: not proc.status()["paused"], 10, "the pause to end by itself")
    time.sleep(1.5)
    assert proc.stop() == 0
    events = published(broker, "x-pause", expect_at_least=2)
    assert all(e["end_ms"] <= since or e["start_ms"] >= until for e in events), events
    assert any(e["start_ms"] >= until and e["app"] == "Thetaapp" for e in events)
    assert any(e["end_ms"] <= since and e["app"] == "Etaapp" for e in events)


def test_closed_windows_and_a_dying_x_server_are_handled(desktop, tmp_path):
    proc = CollectorProc(tmp_path, desktop, f"127.0.0.1:{free_port()}", user="x-chaos",
                         poll_interval=0.05, pulsetime=1.0)
    proc.start()
    for i in range(12):  # windows that close between two polls
        title = f"Short lived {i}"
        desktop.open_window(title, "Shortapp")
        desktop.activate(title)
        desktop.close_window(title)
    assert proc.child.alive() and proc.status()["samples"] > 0
    desktop.xvfb.stop(timeout=5)  # logout / crash of the X server
    wait_for(lambda: not proc.child.alive(), 30, "the collector to exit")
    assert proc.child.proc.returncode == 0
    log = proc.log.read_text()
    assert "the X server went away" in log and "Traceback" not in log
    assert len(Spool(proc.spool)) > 0, "unsent events are kept for the next start"


def raw_request(path, data: bytes, timeout: float = 10) -> dict:
    """One client that sends ``data`` as it is (then a newline) and reads the answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(data + b"\n")
        return orjson.loads(sock.makefile("rb").readline())


def cli(proc: CollectorProc, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deskpulse.cli", "collector", *args],
                          env=proc.env, capture_output=True, text=True, timeout=60)


def test_bad_control_requests_leave_private_mode_working(desktop, broker, tmp_path):
    desktop.open_window("Iota", "Iotaapp")
    desktop.open_window("Kappa", "Kappaapp")
    desktop.activate("Iota")
    proc = CollectorProc(tmp_path, desktop, broker, user="x-hostile-ctl")
    proc.start()
    # what switched private mode off for good: a string, a double overflow, 9999999999999999h
    for body in (b'{"cmd":"pause","for_s":"10"}', b'{"cmd":"pause","for_s":1e308}',
                 b'{"cmd":"pause","for_s":35999999999999996400}', b'{"cmd":"pause","for_s":-5}',
                 b'\xff\x00garbage', b'[]', b'{"cmd":"stop"}'):
        assert set(raw_request(proc.socket, body)) == {"error"}, body
    refused = cli(proc, "pause", "--for", "9999999999999999h")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines()[-1].startswith("ConfigError: --for")
    assert "Traceback" not in refused.stderr
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as half:  # leaves mid-request
        half.connect(str(proc.socket))
        half.sendall(b'{"cmd": "pau')
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as big:  # far over the size bound
        big.settimeout(10)
        big.connect(str(proc.socket))
        with contextlib.suppress(OSError):
            big.sendall(b"z" * 100_000)
        assert b"at most 4096 bytes" in big.recv(1000)
    assert proc.status()["paused"] is False
    time.sleep(1.5)

    paused = cli(proc, "pause")  # the real command, until resumed
    assert paused.returncode == 0 and "private mode: ON" in paused.stdout, paused
    state = proc.status()
    since, samples = state["paused_since_ms"], state["samples"]
    desktop.activate("Kappa")  # switched during the pause: must not be recorded
    time.sleep(2.0)
    state = proc.status()
    assert state["paused"] is True and state["samples"] == samples, "sampled while paused"
    resumed_after = int(time.time() * 1000)
    resumed = cli(proc, "resume")
    assert resumed.returncode == 0 and "private mode: off" in resumed.stdout, resumed
    time.sleep(2.0)
    assert proc.status()["samples"] > samples
    assert proc.stop() == 0
    events = published(broker, "x-hostile-ctl", expect_at_least=2)
    assert all(e["end_ms"] <= since or e["start_ms"] >= resumed_after for e in events), events
    assert any(e["end_ms"] <= since and e["app"] == "Iotaapp" for e in events)
    assert any(e["start_ms"] >= resumed_after and e["app"] == "Kappaapp" for e in events)
    assert "Traceback" not in proc.log.read_text()


def test_spool_log_and_socket_are_private_even_if_they_were_not(desktop, tmp_path):
    desktop.open_window("Lambda", "Lambdaapp")
    desktop.open_window("Mu", "Muapp")
    old = os.umask(0o022)
    try:
        proc = CollectorProc(tmp_path, desktop, f"127.0.0.1:{free_port()}", user="x-modes",
                             max_span=1)
        os.chmod(tmp_path, 0o755)
        proc.log.write_text("an older run\n")
        Spool(proc.spool).close()  # an older spool, as loose as earlier versions left it
        for path in (proc.log, proc.spool):
            os.chmod(path, 0o644)
        proc.start()
    finally:
        os.umask(old)
    for title in ("Lambda", "Mu", "Lambda"):
        desktop.activate(title)
        time.sleep(1.0)
    wait_for(lambda: proc.status()["spooled"] >= 2, 20, "spooled events")
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode)
             for p in (proc.spool, tmp_path / "spool.db-wal", tmp_path / "spool.db-shm",
                       proc.log, proc.socket)}
    assert modes == dict.fromkeys(modes, 0o600), modes
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert proc.stop() == 0
    assert "made " in proc.log.read_text() and "private (mode 0600, was 0644)" in \
        proc.log.read_text()

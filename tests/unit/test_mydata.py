"""The "my data" page's parts: the sent log, the page document, and the loopback server's
guards (the real server on loopback, the real collector loop with a fake probe and Kafka)."""

from __future__ import annotations

import http.client
import json
import os
import stat

import pytest

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.mydata import view
from collector.mydata.sentlog import SentLog, day_start_ms
from collector.mydata.server import MyDataServer, peer_uid
from collector.probes import WindowInfo
from collector.spool import Spool
from tests.unit.test_agent import T0, Clock, FakePublisher, Idle, Probe

DAY = 86_400_000


@pytest.fixture()
def rig(tmp_path):
    clock, probe, idle, pub = Clock(), Probe(), Idle(), FakePublisher()
    spool = Spool(tmp_path / "spool.db")
    sent = SentLog(tmp_path / "sent.db", tz="Europe/Berlin")
    settings = CollectorSettings(user="alice", host="pc", redact=(r"secret-\w+",),
                                 url_mode="host", timezone="Europe/Berlin",
                                 hours="mon-sun 00:00-24:00")
    collector = Collector(settings, probe=probe, idle=idle, spool=spool, publisher=pub,
                          clock=clock, sent_log=sent)

    def seconds(n):
        for _ in range(n):
            collector.tick()
            clock.now += 1
    return collector, clock, probe, pub, spool, sent, seconds


def test_the_sent_log_holds_what_the_broker_acknowledged_as_it_was_sent(rig):
    collector, clock, probe, pub, spool, sent, seconds = rig
    probe.window = WindowInfo("code", "/usr/bin/code", "notes secret-abc", 1)
    seconds(3)
    probe.window = WindowInfo("firefox", "/usr/bin/firefox", "mail", 2)
    seconds(3)
    collector.builder.flush(int(clock.now * 1000))
    collector.pump()
    assert pub.sent, "spans were sent"
    pub.settle(ok=False)  # not delivered: not in the sent log, still in the spool
    collector.pump()
    assert sent.events(0) == [] and len(spool) > 0
    pub.settle(ok=True)
    collector.pump()
    logged = sent.events(0)
    assert [e["event_id"] for e in logged] == [e.event_id for e in pub.sent[-len(logged):]]
    assert logged and all("secret-abc" not in json.dumps(e) for e in logged)
    assert logged[0]["title"] == "notes [redacted]"
    assert stat.S_IMODE(os.stat(sent.path).st_mode) == 0o600


def test_pauses_are_recorded_with_their_end(rig):
    collector, clock, _, _, _, sent, seconds = rig
    seconds(2)
    collector.set_pause(None)
    since = int(clock.now * 1000)
    clock.now += 60
    collector.resume()
    collector.set_pause(900)
    clock.now += 1000  # the timed pause ends by itself at since + 900 s
    collector.paused(int(clock.now * 1000))
    pauses = sent.pauses(0)
    assert pauses[0] == {"since_ms": since, "until_ms": None, "ended_ms": since + 60_000}
    assert pauses[1]["ended_ms"] == pauses[1]["until_ms"] == pauses[1]["since_ms"] + 900_000


def test_the_sent_log_keeps_today_and_a_bounded_number_of_events(tmp_path):
    from schemas.activity import ActivityEvent
    log = SentLog(tmp_path / "s.db", tz="Europe/Berlin", max_events=5)
    now = int(T0 * 1000)
    today = day_start_ms(now, "Europe/Berlin")

    def ev(i, start):
        return ActivityEvent(schema="deskpulse.activity.v1", event_id=f"e{i}", tenant="t",
                             host="h", user="u", app="a", start_ms=start, end_ms=start + 1)
    log.record([ev(0, today - 1), ev(1, today)])
    assert log.prune(now) == 1 and [e["event_id"] for e in log.events(0)] == ["e1"]
    log.record([ev(i, today + i) for i in range(2, 9)])
    assert len(log) == 5 and [e["event_id"] for e in log.events(0)][0] == "e4"


def test_the_page_document_says_what_is_in_effect():
    settings = CollectorSettings(user="u", host="h", hours="mon-fri 09:00-17:00")
    status = {"paused": False, "spooled": 2, "in_flight": 1, "dropped": 0, "away": False}
    sent = [{"event_id": "a", "app": "x", "start_ms": 100, "end_ms": 400, "idle": True},
            {"event_id": "b", "app": "y", "title": "t", "start_ms": 500, "end_ms": 600},
            {"event_id": "old", "app": "y", "start_ms": 10, "end_ms": 20}]
    doc = view.page(settings, status, sent, [], [], now_ms=700, day_start_ms=50,
                    inside_hours=True)
    assert doc["state"] == "waiting" and [e["event_id"] for e in doc["sent"]] == ["a", "b"]
    assert doc["totals"] == {"events": 2, "active_ms": 100, "idle_ms": 300}
    assert view.state({**status, "paused": True}, True) == "paused"
    assert view.state({**status, "spooled": 0}, False) == "off-hours"
    assert view.state({**status, "spooled": 0}, None) == "recording"


# --- the server ---------------------------------------------------------------------------

@pytest.fixture()
def page(rig, tmp_path):
    collector, *_ , sent, _ = rig
    server = MyDataServer(collector, sent, tmp_path / "ctl.sock")
    server.start()
    yield server, collector
    server.stop()


def ask(server, method="GET", path="/api/today", *, host=None, token=None, origin=None,
        body=None, kind="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": f"127.0.0.1:{server.port}" if host is None else host}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    if body is not None:
        headers["Content-Type"] = kind
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, (json.loads(data) if answer.getheader("Content-Type", "")
                           .startswith("application/json") else data)


def test_the_token_file_is_private_and_goes_away_with_the_server(rig, tmp_path):
    collector, *_, sent, _ = rig
    server = MyDataServer(collector, sent, tmp_path / "ctl.sock")
    server.start()
    found = json.loads(server.token_path.read_text())
    assert found["token"] == server.token and found["url"] == server.url
    assert stat.S_IMODE(os.stat(server.token_path).st_mode) == 0o600
    server.stop()
    assert not server.token_path.exists()


def test_the_data_needs_the_token_in_the_header(page):
    server, _ = page
    assert ask(server)[0] == 401
    assert ask(server, token="wrong")[0] == 401
    assert ask(server, path=f"/api/today?token={server.token}")[0] == 401
    status, doc = ask(server, token=server.token)
    assert status == 200 and doc["who"]["user"] == "alice"
    assert ask(server, path="/")[0] == 200  # the page itself holds no data


def test_a_rebound_dns_name_is_refused(page):
    server, _ = page
    for host in (f"evil.example:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}",
                 ""):
        assert ask(server, host=host, token=server.token)[0] == 421, host
        assert ask(server, "GET", "/", host=host)[0] == 421, host
    assert ask(server, host=f"localhost:{server.port}", token=server.token)[0] == 200


def test_a_post_from_another_origin_or_a_form_is_refused(page):
    server, collector = page
    mine = f"http://127.0.0.1:{server.port}"
    for origin, kind in ((None, "application/json"), ("http://evil.example", "application/json"),
                         ("null", "application/json"), (mine, "text/plain"),
                         (mine, "application/x-www-form-urlencoded")):
        status, _ = ask(server, "POST", "/api/pause", token=server.token, origin=origin,
                        body={"for_s": None}, kind=kind)
        assert status in (403, 415), (origin, kind)
    assert collector.pause is None
    status, doc = ask(server, "POST", "/api/pause", token=server.token, origin=mine,
                      body={"for_s": 900})
    assert status == 200 and doc["private_mode"]["on"] and collector.pause is not None
    assert ask(server, "POST", "/api/pause", token=server.token, origin=mine,
               body={"for_s": 10 ** 9})[0] == 400
    status, doc = ask(server, "POST", "/api/resume", token=server.token, origin=mine, body={})
    assert status == 200 and not doc["private_mode"]["on"] and collector.pause is None


def test_the_peer_of_a_loopback_connection_is_known():
    import socket
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        conn, address = srv.accept()
        try:
            assert peer_uid(address) == os.geteuid()
        finally:
            conn.close()
            client.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_another_user_is_refused_even_with_the_token(page):
    server, _ = page
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, then ask with the right token
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            status = ask(server, token=server.token)[0]
        except BaseException:  # noqa: BLE001 - report anything to the parent
            status = -1
        os.write(write, str(status).encode())
        os._exit(0)
    os.close(write)
    _, _ = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"403"
    os.close(read)


def test_the_page_and_tray_settings_are_checked(tmp_path):
    from collector.config import collector_settings
    from deskpulse.core.errors import ConfigError
    base = {"tenant": "t", "data_dir": tmp_path}
    on = collector_settings({}, {}, **base)
    assert on.my_data and on.tray and on.my_data_port == 0 and on.sent_log_days == 1
    off = collector_settings({"tray": False, "my_data": False}, {}, **base)
    assert not off.tray and not off.my_data
    assert collector_settings({}, {"tray": "off"}, **base).tray is False  # from the environment
    for bad in ({"my_data_port": 70000}, {"sent_log_days": 0}, {"tray": 1}):
        with pytest.raises(ConfigError):
            collector_settings(bad, {}, **base)


def test_the_page_lists_what_still_waits_in_the_spool(rig, tmp_path):
    collector, clock, probe, pub, spool, sent, seconds = rig
    seconds(3)
    probe.window = WindowInfo("firefox", "/usr/bin/firefox", "mail secret-xyz", 2)
    seconds(3)
    collector.pump()  # sent, not yet acknowledged: still in the spool, not in the sent log
    server = MyDataServer(collector, sent, tmp_path / "ctl.sock")
    server.start()
    try:
        status, doc = ask(server, token=server.token)
    finally:
        server.stop()
    assert status == 200 and doc["sent"] == []
    assert doc["spool"]["waiting"] == len(spool) == len(doc["spool"]["events"]) > 0
    assert doc["spool"]["in_flight"] == len(pub.waiting)
    assert [e["event_id"] for e in doc["spool"]["events"]] == [e.event_id for e in pub.sent]
    assert doc["state"] == "waiting" and doc["working_hours"]["inside_now"] is True

"""The control channel's Windows transport (loopback + a per-user token file), run for real.

Windows' Python has no AF_UNIX, so there the collector listens on 127.0.0.1 and writes
``{"port", "token"}`` to a 0600 file of the person's; every request must carry the token.
The transport is the same code on every OS, so it is tested here on real sockets, with the
real run loop (private mode pauses sampling), as on a Windows desktop.
"""

from __future__ import annotations

import socket
import stat

import orjson
import pytest

from collector import control
from collector.control import ControlServer, request
from deskpulse.core.errors import ConfigError, DeskpulseError, StackNotRunning
from tests.unit.test_control import Live


@pytest.fixture()
def live(tmp_path):
    collector = Live(tmp_path, transport="tcp")
    try:
        yield collector
    finally:
        collector.close()


def _raw(port: int, body: dict) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(orjson.dumps(body) + b"\n")
        return orjson.loads(sock.makefile("rb").readline())


def test_private_mode_works_over_loopback_with_the_token_file(live):
    ticket = orjson.loads(live.path.read_bytes())
    assert stat.S_IMODE(live.path.stat().st_mode) == 0o600, "the token file is the person's"
    assert stat.S_IMODE(live.path.parent.stat().st_mode) == 0o700
    assert len(ticket["token"]) >= 32 and isinstance(ticket["port"], int)
    assert not stat.S_ISSOCK(live.path.stat().st_mode)

    assert request(live.path, {"cmd": "pause"})["paused"] is True
    live.iterations(3)
    calls = live.probe.calls
    live.iterations(5)
    assert live.probe.calls == calls, "paused: nothing sampled"
    assert request(live.path, {"cmd": "resume"})["paused"] is False
    live.iterations(5)
    assert live.probe.calls > calls


def test_requests_without_the_right_token_are_refused_and_change_nothing(live):
    port = orjson.loads(live.path.read_bytes())["port"]
    for body in ({"cmd": "pause"}, {"cmd": "pause", "token": "guess"},
                 {"cmd": "pause", "token": 12}, {"cmd": "pause", "token": None}):
        assert "not authorised" in _raw(port, body)["error"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"not json\n")
        assert "not authorised" in orjson.loads(sock.makefile("rb").readline())["error"]
    assert request(live.path, {"cmd": "status"})["paused"] is False, "still recording"
    # the right token, and the request is validated as on the unix socket
    token = orjson.loads(live.path.read_bytes())["token"]
    assert "unknown command" in _raw(port, {"cmd": "rm", "token": token})["error"]
    assert _raw(port, {"cmd": "status", "token": token})["user"] == "alice"


def test_every_start_has_a_new_token_and_stop_removes_the_file(tmp_path):
    path = tmp_path / "run" / "ctl"
    tokens = []
    for _ in range(2):
        server = ControlServer(path, lambda req: {"ok": True}, transport="tcp")
        server.start()
        tokens.append(orjson.loads(path.read_bytes())["token"])
        assert request(path, {"cmd": "status"}) == {"ok": True}
        server.stop()
        assert not path.exists()
    assert tokens[0] != tokens[1]


def test_a_stale_token_file_is_no_collector_and_a_garbled_one_is_a_clear_error(tmp_path):
    path = tmp_path / "ctl"
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    path.write_bytes(orjson.dumps({"port": port, "token": "x" * 40}))
    path.chmod(0o600)
    with pytest.raises(StackNotRunning):
        request(path, {"cmd": "status"})  # a collector that was killed left it
    path.write_text("{}")
    with pytest.raises(DeskpulseError, match="unreadable"):
        request(path, {"cmd": "status"})
    path.chmod(0o644)
    with pytest.raises(ConfigError):
        request(path, {"cmd": "status"})  # others may read it: not a token of the person's


def test_the_server_refuses_a_path_that_is_not_a_token_file(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigError, match="not a token file"):
        ControlServer(tmp_path / "dir", lambda req: {}, transport="tcp")


def test_windows_gets_the_tcp_transport(monkeypatch, tmp_path):
    assert control.default_transport() == "unix"
    monkeypatch.delattr(socket, "AF_UNIX")  # as on Windows
    assert control.default_transport() == "tcp"
    server = ControlServer(tmp_path / "ctl", lambda req: {"ok": True})
    server.start()
    try:
        assert server.transport == "tcp"
        assert request(tmp_path / "ctl", {"cmd": "status"}) == {"ok": True}
    finally:
        server.stop()
    with pytest.raises(ConfigError, match="no Unix domain sockets"):
        ControlServer(tmp_path / "other", lambda req: {}, transport="unix")

"""The control socket under attack: a real socket, the real handler and the real run loop.

Only the window probe, the input source and Kafka are stand-ins; the collector's
loop samples on its own thread as it does on a desktop, and the spool is a real
SQLite file. Whatever a client sends, the channel must keep answering and private
mode must keep working: paused, nothing is sampled or spooled; resumed, recording
goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.control import (
    MAX_REQUEST_BYTES,
    PAUSE_MAX_S,
    ControlLost,
    ControlServer,
    request,
)
from collector.probes import WindowInfo
from collector.spool import Spool
from deskpulse.cli import cli
from deskpulse.core.errors import ConfigError, DeskpulseError
from tests.conftest import wait_for


class CountingProbe:
    def __init__(self) -> None:
        self.calls = 0
        self.window = WindowInfo("code", "/usr/bin/code", "a.py", 1)

    def active_window(self) -> WindowInfo:
        self.calls += 1
        return self.window

    def close(self) -> None:
        pass


class Idle:
    def idle_seconds(self) -> float:
        return 0.0


class LoopPublisher:
    """Kafka stand-in that acknowledges everything; ``polls`` counts run-loop iterations."""

    def __init__(self) -> None:
        self.polls = 0
        self.sent: list = []
        self._waiting: list = []

    def send(self, event, on_result=None) -> None:
        self.sent.append(event)
        self._waiting.append(on_result)

    def poll(self, timeout: float = 0) -> None:
        waiting, self._waiting = self._waiting, []
        for cb in waiting:
            cb(True)
        self.polls += 1

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0


class Live:
    """A collector running its loop on a thread, with its control socket serving."""

    def __init__(self, tmp: Path, **server) -> None:
        self.probe, self.publisher = CountingProbe(), LoopPublisher()
        self.spool = Spool(tmp / "spool.db")
        self.collector = Collector(
            CollectorSettings(user="alice", host="pc", poll_interval=0.01, pulsetime=0.5,
                              max_span=0.2),
            probe=self.probe, idle=Idle(), spool=self.spool, publisher=self.publisher)
        self.path = tmp / "run" / "ctl.sock"
        self.server = ControlServer(self.path, self.collector.handle, **server)
        self.server.start()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.collector.run(self.stop, control_alive=self.server.alive)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.server.stop()
        self.spool.close()

    def iterations(self, n: int) -> None:
        """Wait until the run loop went round ``n`` more times."""
        start = self.publisher.polls
        wait_for(lambda: self.publisher.polls >= start + n or self.error, 10,
                 f"{n} run-loop iterations", interval=0.005)
        assert self.error is None, self.error

    def raw(self, data: bytes, *, mode: str = "line", timeout: float = 5.0) -> dict | None:
        """Send ``data`` as a client of the given manners; the parsed answer, if one came."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.path))  # blocking: waits while the backlog is full
            sock.settimeout(timeout)
            try:
                if mode == "split":
                    for i in range(0, len(data), 3):
                        sock.sendall(data[i:i + 3])
                else:
                    sock.sendall(data)
                if mode in ("line", "split"):
                    sock.sendall(b"\n")
                elif mode == "eof":
                    sock.shutdown(socket.SHUT_WR)
                elif mode == "rude":
                    sock.sendall(b"\n")
                    return None  # gone before the answer
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may cut an oversized request short
            reply = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:  # closed with our unread excess: after the answer
                    break
                if not chunk:
                    break
                reply += chunk
        if not reply:
            return None
        assert reply.endswith(b"\n") and reply.count(b"\n") == 1, reply
        answer = orjson.loads(reply)
        assert isinstance(answer, dict)
        return answer

    def assert_private_mode_obeyed(self) -> None:
        """Pause: the loop goes on but samples nothing and spools nothing; resume: it records."""
        state = request(self.path, {"cmd": "pause"})
        assert state["paused"] is True and state["paused_until_ms"] is None
        since = state["paused_since_ms"]
        calls, samples = self.probe.calls, self.collector.counters.samples
        spooled, seq = self.collector.counters.spooled, self.spool.next_seq
        self.iterations(5)
        assert self.probe.calls == calls, "the window was looked at while paused"
        assert self.collector.counters.samples == samples
        assert (self.collector.counters.spooled, self.spool.next_seq) == (spooled, seq), \
            "something was spooled while paused"
        assert all(e.end_ms <= since for e in self.publisher.sent), "a span crossed the pause"
        assert request(self.path, {"cmd": "status"})["paused"] is True
        assert request(self.path, {"cmd": "resume"})["paused"] is False
        wait_for(lambda: self.collector.counters.samples > samples + 2, 10,
                 "recording again after resume", interval=0.005)


@pytest.fixture()
def live(tmp_path):
    rig = Live(tmp_path, request_timeout=0.3)
    try:
        yield rig
    finally:
        rig.close()


BAD = [
    # the three requests of the report: a string, a double overflow, 9999999999999999h
    b'{"cmd":"pause","for_s":"10"}',
    b'{"cmd":"pause","for_s":1e308}',
    b'{"cmd":"pause","for_s":35999999999999996400}',
    b'{"cmd":"pause","for_s":NaN}', b'{"cmd":"pause","for_s":Infinity}',
    b'{"cmd":"pause","for_s":-5}', b'{"cmd":"pause","for_s":0}', b'{"cmd":"pause","for_s":0.5}',
    b'{"cmd":"pause","for_s":true}', b'{"cmd":"pause","for_s":[10]}',
    b'{"cmd":"pause","for_s":604801}', b'{"cmd":"resume","for_s":10}',
    b'{"cmd":"pause","for_s":10,"until":1}', b'{"cmd":"shutdown"}', b'{"cmd":5}', b'{}',
    b'[]', b'"status"', b'null', b'', b'\xff\xfe\x00', b'{"cmd":"status"',
    b'[' * 1500 + b']' * 1500,
]


def test_the_requests_that_switched_private_mode_off_get_errors_and_it_still_works(live):
    for body in BAD:
        answer = live.raw(body)
        assert answer is not None and set(answer) == {"error"}, (body[:60], answer)
    bounds = live.raw(b'{"cmd":"pause","for_s":1e308}')["error"]
    assert f"from 1 s to {PAUSE_MAX_S} s (7 days)" in bounds
    assert "not a number of seconds" not in bounds
    assert "not '10'" in live.raw(b'{"cmd":"pause","for_s":"10"}')["error"]
    assert live.server.alive() and live.collector.pause is None
    live.assert_private_mode_obeyed()
    # the bounds themselves are pauses
    assert request(live.path, {"cmd": "pause", "for_s": PAUSE_MAX_S})["paused"] is True
    assert request(live.path, {"cmd": "pause", "for_s": 1})["paused"] is True
    request(live.path, {"cmd": "resume"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
shaped = st.fixed_dictionaries(
    {"cmd": st.sampled_from(["pause", "resume", "status"]) | json_values},
    optional={"for_s": json_values | st.sampled_from([1e308, -1e308, 10**30, 2**63, -0.0, 1,
                                                        PAUSE_MAX_S, PAUSE_MAX_S + 1]),
              "extra": json_values})
payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    shaped.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.integers(MAX_REQUEST_BYTES - 2, 3 * MAX_REQUEST_BYTES).map(lambda n: b"x" * n),
)
manners = st.sampled_from(["line", "split", "eof", "hang", "rude"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(clients=st.lists(st.tuples(payloads, manners), min_size=1, max_size=4))
def test_any_request_of_any_shape_leaves_the_channel_serving_and_private_mode_working(
        live, clients):
    for data, manner in clients:
        answer = live.raw(data.replace(b"\n", b" "), mode=manner)
        if manner in ("line", "split", "hang"):
            assert answer is not None, (data[:60], manner)
            assert ("error" in answer and isinstance(answer["error"], str)) or \
                isinstance(answer.get("paused"), bool), answer
        if manner == "hang" or len(data) > MAX_REQUEST_BYTES:
            assert answer is None or "error" in answer
    assert live.server.alive()
    assert isinstance(request(live.path, {"cmd": "status"})["paused"], bool)
    live.assert_private_mode_obeyed()


def test_slow_clients_and_crowds_do_not_block_anyone(tmp_path):
    rig = Live(tmp_path, request_timeout=5)
    try:
        # a crowd that never finishes its line, and one that drips a byte at a time
        crowd = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(12)]
        for sock in crowd:
            sock.settimeout(15)
            sock.connect(str(rig.path))
            sock.sendall(b'{"cmd": "sta')
        dripping = threading.Event()

        def drip() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(rig.path))
                for _ in range(400):  # far longer than the request timeout
                    try:
                        sock.sendall(b" ")
                    except OSError:
                        dripping.set()  # the server hung up on it
                        return
                    time.sleep(0.02)

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        # meanwhile the person at the desktop is served at once: before any slow client's
        # 5 s are up (a server that waited for them would answer after 5 s at the earliest;
        # 4 s leaves a loaded machine its scheduling delays and still tells the two apart)
        assert request(rig.path, {"cmd": "pause"}, timeout=4)["paused"] is True
        assert request(rig.path, {"cmd": "resume"}, timeout=4)["paused"] is False
        # past the open-connection bound a newcomer is told so, not left hanging
        extra = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(8)]
        busy = []
        for sock in extra:
            sock.settimeout(15)
            sock.connect(str(rig.path))
        for sock in extra:
            reply = sock.recv(1000)
            busy.append(b"busy" in reply)
            sock.close()
        assert any(busy)
        # every slow client gets its error answer within bounds, then the connection ends
        for sock in crowd:
            reply = sock.recv(1000)
            assert b"no complete request line within 5 s" in reply, reply
            assert sock.recv(1000) == b""
            sock.close()
        dripper.join(15)
        assert dripping.is_set(), "the dripping client was cut off"
        assert rig.server.alive()
        rig.assert_private_mode_obeyed()
    finally:
        rig.close()


def test_a_whole_request_that_waited_for_a_starved_server_is_answered_not_timed_out(
        tmp_path):
    """The deadline is for the client; a server thread kept from the CPU past it (a loaded
    machine) reads what is there before it says "no complete request line". It told a
    pause request sent in full that it came too late (the rude-client test saw it)."""

    class Starved(ControlServer):
        def _admit(self, conn: socket.socket) -> None:
            super()._admit(conn)
            time.sleep(0.5)  # the serving thread waits for the CPU right after admitting

    collector = Collector(CollectorSettings(user="alice", host="pc"), probe=CountingProbe(),
                          idle=Idle(), spool=Spool(tmp_path / "spool.db"),
                          publisher=LoopPublisher())
    server = Starved(tmp_path / "run" / "ctl.sock", collector.handle, request_timeout=0.2)
    server.start()
    try:
        assert request(server.path, {"cmd": "pause", "for_s": 60})["paused"] is True
        assert collector.pause is not None
    finally:
        server.stop()


def test_a_client_over_the_bound_is_told_it_is_busy(tmp_path):
    rig = Live(tmp_path, max_clients=1, request_timeout=5)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hanging:
            hanging.connect(str(rig.path))
            wait_for(lambda: len(rig.server._clients) == 1, 5, "the first client admitted",
                     interval=0.01)
            for _ in range(20):
                with pytest.raises(DeskpulseError, match="the collector refused: busy: 1 "):
                    request(rig.path, {"cmd": "status"})
        wait_for(lambda: not rig.server._clients, 10, "the hanging client dropped", 0.05)
        rig.assert_private_mode_obeyed()
    finally:
        rig.close()


def test_a_huge_body_is_cut_at_the_size_bound(live):
    answer = live.raw(b"y" * 1_000_000, mode="eof")
    assert answer == {"error": f"a request is at most {MAX_REQUEST_BYTES} bytes on one line"}
    live.assert_private_mode_obeyed()


def test_clients_that_leave_before_the_answer_change_nothing(live):
    for _ in range(30):
        live.raw(b'{"cmd": "status"}', mode="rude")
    # the server lets go of every rude client (until then, past max_clients, a new request is
    # rightly told "busy": on a loaded machine the pause below was refused that way)
    wait_for(lambda: live.server.open_requests() == 0, 10, "the rude clients let go")
    live.raw(b'{"cmd": "pause", "for_s": 60}', mode="rude")
    wait_for(lambda: live.collector.status()["paused"], 30, "the pause of the rude client")
    live.assert_private_mode_obeyed()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_control_thread_that_dies_stops_the_recording(tmp_path):
    rig = Live(tmp_path)
    try:
        rig.iterations(3)

        def die() -> None:
            raise SystemExit  # what no per-request guard catches
        rig.server._step = die
        # the serving thread sleeps in select until something comes: a request wakes it, and
        # its next step dies (the request is lost with it)
        with contextlib.suppress(DeskpulseError):
            request(rig.path, {"cmd": "status"}, timeout=2)
        rig.thread.join(10)
        assert isinstance(rig.error, ControlLost), rig.error
        assert not rig.server.alive()
        calls = rig.probe.calls
        time.sleep(0.1)
        assert rig.probe.calls == calls, "nothing is sampled once the channel is gone"
    finally:
        rig.close()


def test_socket_and_its_directory_are_private_even_if_they_were_not(tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    os.chmod(run, 0o755)
    (run / "ctl.sock").write_text("")  # not a socket: refused, not deleted
    with pytest.raises(ConfigError, match="is not a socket"):
        Live(tmp_path)
    (run / "ctl.sock").unlink()
    rig = Live(tmp_path)
    try:
        assert stat.S_IMODE(run.stat().st_mode) == 0o700
        assert stat.S_IMODE(rig.path.stat().st_mode) == 0o600
        assert stat.S_ISSOCK(rig.path.stat().st_mode)
    finally:
        rig.close()


def as_other_user(path: Path, uid: int = 65534) -> str:
    """Connect as another local user (a forked child that drops to ``uid``) and send resume."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os and socket calls, then _exit
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                try:
                    sock.connect(str(path))
                except PermissionError:
                    os.write(write, b"denied by the file mode")
                    os._exit(0)
                with contextlib.suppress(BrokenPipeError):  # refused before it: the answer's there
                    sock.sendall(b'{"cmd": "resume"}\n')
                os.write(write, sock.recv(1000))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write, f"child failed: {exc!r}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        return pipe.read().decode()


@pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED") or os.geteuid() != 0,
                    reason="needs Linux and root to act as another user")
def test_another_local_user_cannot_use_the_socket_even_if_its_mode_is_loosened():
    base = Path(tempfile.mkdtemp(prefix="deskpulse-peer-"))  # in /tmp: others can enter
    rig = Live(base)
    try:
        request(rig.path, {"cmd": "pause"})
        for directory in (base, rig.path.parent):  # the collector made them 0700
            os.chmod(directory, 0o755)
        assert as_other_user(rig.path) == "denied by the file mode"
        os.chmod(rig.path, 0o666)  # an administrator's mistake: the uid check still holds
        assert "this collector belongs to another user" in as_other_user(rig.path)
        assert rig.collector.status()["paused"] is True, "the other user's resume was refused"
    finally:
        rig.close()
        shutil.rmtree(base)


@pytest.mark.parametrize("value", ["9999999999999999h", "-5m", "0", "0s", "8d", "garbage",
                                   "1.5h", "9" * 5000 + "h", ""])
def test_pause_for_is_bounded_with_a_one_line_error(tmp_path, value):
    env = {"DESKPULSE_COLLECTOR_CONTROL_SOCKET": str(tmp_path / "none.sock")}
    result = CliRunner().invoke(cli, ["collector", "pause", "--for", value], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("ConfigError: --for ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["1s", "7d", "1h30m", "2d3h"])
def test_pause_for_within_the_bounds_goes_to_the_collector(tmp_path, value):
    env = {"DESKPULSE_COLLECTOR_CONTROL_SOCKET": str(tmp_path / "none.sock")}
    result = CliRunner().invoke(cli, ["collector", "pause", "--for", value], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 3 and "no collector is running" in result.output

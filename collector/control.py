"""The running collector's local control channel (private mode and status).

Two transports, one protocol:

- ``unix`` (Linux, macOS): a Unix domain socket, mode 0600, in a 0700 directory of the
  user's runtime dir; on Linux the server also checks the peer's uid (``SO_PEERCRED``):
  only the person logged in can pause, resume or ask for status.
- ``tcp`` (Windows, whose Python has no ``AF_UNIX``): a socket on 127.0.0.1 with a port
  the OS picks, and a per-user **token file** at the ``control_socket`` path holding
  ``{"port": N, "token": "..."}`` (written 0600 in the person's 0700 directory; on Windows
  the directory under ``%LOCALAPPDATA%`` is the person's by its ACL). Every request carries
  the token (``"token"`` beside ``"cmd"``): any local process can connect to loopback, only
  one that can read the person's file is answered. The token is new at every start.

:func:`request` picks the transport from what it finds at the path (a socket or a token
file).

Protocol: one JSON object on one line per connection, one JSON object back::

    {"cmd": "status"}
    {"cmd": "resume"}
    {"cmd": "pause"}                    until resumed
    {"cmd": "pause", "for_s": 1800}     a number of seconds, PAUSE_MIN_S .. PAUSE_MAX_S

The answer is the collector's status, or ``{"error": "..."}`` for anything else
(not JSON, not an object, unknown command or field, a duration of the wrong type
or out of bounds). The server cannot be broken by a client: one thread
multiplexes every connection (no client can block another), a request must be
complete within ``request_timeout`` seconds and ``MAX_REQUEST_BYTES``, at most
``max_clients`` connections are open at once (the others get a "busy" answer),
and every failure is answered or logged per connection. If the serving thread
still died, :meth:`ControlServer.alive` says so and the run loop stops
recording (:class:`ControlLost`) rather than record without private mode.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import os
import secrets
import selectors
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from collector.perms import private_dir
from deskpulse.core.errors import ConfigError, DeskpulseError, StackNotRunning

logger = logging.getLogger(__name__)

#: a timed pause lasts at least a second (less is shorter than one sample) and at most a
#: week: longer is a pause until resumed (no ``for_s``), not a typo of a unit
PAUSE_MIN_S = 1
PAUSE_MAX_S = 7 * 24 * 3600
MAX_REQUEST_BYTES = 4096
MAX_ANSWER_BYTES = 65536
COMMANDS = ("pause", "resume", "status")
#: the serving thread's longest sleep with no request open (stop() wakes it at once)
IDLE_WAIT_S = 60.0


def default_transport() -> str:
    """``unix`` where Python has Unix domain sockets, else ``tcp`` (Windows)."""
    return "unix" if hasattr(socket, "AF_UNIX") else "tcp"


class ControlLost(DeskpulseError):
    """The control socket stopped serving: private mode could no longer be switched."""


@dataclass(frozen=True)
class Request:
    cmd: str
    for_s: float | None = None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def pause_seconds(value: Any) -> float | None:
    """A pause duration from a request: None (until resumed) or bounded finite seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"for_s must be a number of seconds or null, not {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value) or \
            not PAUSE_MIN_S <= value <= PAUSE_MAX_S:
        raise ConfigError(f"a timed pause lasts from {PAUSE_MIN_S} s to {PAUSE_MAX_S} s "
                          f"(7 days), not {_show(value)} s; without for_s it lasts until resumed")
    return float(value)


def parse_request(value: Any) -> Request:
    """A decoded JSON value as a request; :class:`ConfigError` says what is wrong."""
    if not isinstance(value, dict):
        raise ConfigError('a request is one JSON object like {"cmd": "status"}')
    cmd = value.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise ConfigError(f"unknown command {_show(cmd)} (known: {', '.join(COMMANDS)})")
    allowed = {"cmd", "for_s"} if cmd == "pause" else {"cmd"}
    extra = sorted(_show(k) for k in value if k not in allowed)
    if extra:
        raise ConfigError(f"unknown field {', '.join(extra)} for {cmd}")
    return Request(cmd, pause_seconds(value.get("for_s")) if cmd == "pause" else None)


def decode_request(line: bytes) -> Request:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"a request is one line of JSON: {exc}") from exc
    return parse_request(value)


Handler = Callable[[Request], dict[str, Any]]


def answer(handle: Handler, line: bytes) -> bytes:
    """The answer line to one request line; never raises (errors are answers)."""
    try:
        req = decode_request(line)
    except ConfigError as exc:
        logger.info("refused a control request: %s", exc)
        return orjson.dumps({"error": str(exc)}) + b"\n"
    try:
        return orjson.dumps(handle(req)) + b"\n"
    except DeskpulseError as exc:
        return orjson.dumps({"error": str(exc)}) + b"\n"
    except Exception as exc:  # noqa: BLE001 - a bug in one request must not end the service
        logger.exception("control request %r failed", req.cmd)
        return orjson.dumps({"error": f"internal error: {type(exc).__name__} (see the "
                                      "collector's log)"}) + b"\n"


def _peer_uid(conn: socket.socket) -> int | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # macOS: the 0700 directory and the 0600 socket are the check
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


@dataclass
class _Client:
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class ControlServer:
    def __init__(self, path: Path, handle: Handler, *, request_timeout: float = 2.0,
                 max_clients: int = 16, transport: str | None = None) -> None:
        self.transport = transport or default_transport()
        if self.transport not in ("unix", "tcp"):
            raise ConfigError(f"control transport {self.transport!r} is not unix or tcp")
        self.path = path
        self._handle = handle
        self.request_timeout = request_timeout
        self.max_clients = max_clients
        self._token = ""
        private_dir(path.parent)
        if self.transport == "unix":
            self._sock = self._bind_unix(path)
        else:
            self._sock = self._bind_tcp(path)
        self._sock.listen(16)
        self._sock.setblocking(False)
        self._uid = os.geteuid() if hasattr(os, "geteuid") else None
        self._clients: dict[socket.socket, _Client] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        # stop() writes a byte here: the serving thread sleeps in select until a client or
        # stop comes, with no timed wake-ups (a deadline of an open request aside)
        self._wake_r, self._wake_w = _socket_pair()
        self._idle_wait = IDLE_WAIT_S if self._wake_r is not None else 0.5
        if self._wake_r is not None:
            self._wake_r.setblocking(False)
            self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    @staticmethod
    def _bind_unix(path: Path) -> socket.socket:
        if not hasattr(socket, "AF_UNIX"):
            raise ConfigError("this platform has no Unix domain sockets; the control channel "
                              "uses loopback and a token file here (transport tcp)")
        try:
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()  # a stale socket of a collector that was killed
            else:
                raise ConfigError(f"{path} exists and is not a socket; the collector does not "
                                  "delete it", hint="choose another control_socket")
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        return sock

    def _bind_tcp(self, path: Path) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(path.lstat().st_mode):
                raise ConfigError(f"{path} exists and is not a token file; the collector does "
                                  "not delete it", hint="choose another control_socket")
        from deskpulse.core.privatefiles import write_private
        sock = socket.create_server(("127.0.0.1", 0))
        self._token = secrets.token_urlsafe(32)
        write_private(path, orjson.dumps({"port": sock.getsockname()[1],
                                          "token": self._token}))
        return sock

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        """Is the serving thread running (the run loop stops recording when it is not)?"""
        return self._thread.is_alive()

    def open_requests(self) -> int:
        """Connections being served now (past ``max_clients``, new ones are told "busy")."""
        return len(self._clients)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                    logger.exception("control socket: unexpected error; serving on")
                    self._stop.wait(0.1)
        finally:
            for conn in list(self._clients):
                self._close(conn)

    def _step(self) -> None:
        now = time.monotonic()
        wait = min([self._idle_wait, *(c.deadline - now for c in self._clients.values())])
        for key, _ in self._selector.select(max(wait, 0.0)):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(64)
            elif key.fileobj is self._sock:
                self._accept()
            else:
                self._read(key.fileobj)  # type: ignore[arg-type]
        now = time.monotonic()
        for conn, client in list(self._clients.items()):
            if now >= client.deadline:
                # what arrived while this thread waited for the CPU still counts: a whole
                # line is answered, only a client that did not send one is timed out
                self._read(conn)
                if conn in self._clients:
                    self._reply(conn, {"error": f"no complete request line within "
                                                f"{self.request_timeout:g} s"})

    def _accept(self) -> None:
        for _ in range(64):  # all that wait (bounded: reads are served between rounds)
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if not self._stop.is_set():
                    logger.warning("control socket: accept failed: %s", exc)
                return
            self._admit(conn)

    def _admit(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        uid = _peer_uid(conn) if self.transport == "unix" else None  # tcp: the token
        if uid is not None and self._uid is not None and uid != self._uid:
            logger.warning("control socket: refused a connection of uid %d", uid)
            self._send_and_close(conn, {"error": "this collector belongs to another user"})
            return
        if len(self._clients) >= self.max_clients:
            self._send_and_close(conn, {"error": f"busy: {self.max_clients} requests are open "
                                                 "already; try again"})
            return
        self._clients[conn] = _Client(deadline=time.monotonic() + self.request_timeout)
        self._selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> None:
        client = self._clients[conn]
        try:
            chunk = conn.recv(MAX_REQUEST_BYTES + 1 - len(client.data))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not chunk:  # gone before a whole line
            self._close(conn)
            return
        client.data += chunk
        line, newline, _ = bytes(client.data).partition(b"\n")
        if newline:
            line, refused = self._authorised(line)
            self._reply_line(conn, refused or answer(self._handle, line))
        elif len(client.data) > MAX_REQUEST_BYTES:
            self._reply(conn, {"error": f"a request is at most {MAX_REQUEST_BYTES} bytes "
                                        "on one line"})

    def _authorised(self, line: bytes) -> tuple[bytes, bytes | None]:
        """The request without its token, or the refusal (tcp: the token must match)."""
        if not self._token:
            return line, None
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        token = value.pop("token", None) if isinstance(value, dict) else None
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(),
                                                                  self._token.encode()):
            logger.warning("control channel: refused a request without this person's token")
            return line, orjson.dumps({"error": "not authorised: the request must carry the "
                                                "token of the collector's token file"}) + b"\n"
        return orjson.dumps(value), None

    def _reply(self, conn: socket.socket, body: dict[str, Any]) -> None:
        self._reply_line(conn, orjson.dumps(body) + b"\n")

    def _reply_line(self, conn: socket.socket, line: bytes) -> None:
        with contextlib.suppress(OSError):  # the client may be gone: nothing to tell it
            conn.send(line)  # small: fits the socket buffer, never blocks this thread
        self._close(conn)

    def _send_and_close(self, conn: socket.socket, body: dict[str, Any]) -> None:
        with contextlib.suppress(OSError), conn:
            conn.send(orjson.dumps(body) + b"\n")

    def _close(self, conn: socket.socket) -> None:
        if self._clients.pop(conn, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._thread.join(2)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._selector.close()
        for end in (self._wake_r, self._wake_w):
            if end is not None:
                end.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # the socket, or the token file (its token dies with it)


def _socket_pair() -> tuple[socket.socket, socket.socket] | tuple[None, None]:
    """A connected pair to wake the serving thread, or none (it then wakes every 0.5 s)."""
    try:
        return socket.socketpair()
    except (OSError, AttributeError):
        return None, None


def _connect(path: Path, body: dict[str, Any], timeout: float) -> socket.socket:
    """A connected socket, and ``body`` with the token it needs (tcp)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise StackNotRunning(f"no collector is running (no control socket at {path})",
                              hint="start it with 'deskpulse collect'") from None
    if stat.S_ISREG(mode):  # the tcp transport's token file
        from deskpulse.core.privatefiles import read_private
        try:
            ticket = orjson.loads(read_private(path, "the collector's token file"))
            port, token = int(ticket["port"]), str(ticket["token"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DeskpulseError(f"the collector's token file {path} is unreadable") from exc
        body["token"] = token
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        return sock
    if not hasattr(socket, "AF_UNIX"):
        raise ConfigError(f"{path} is not a token file, and this platform has no Unix "
                          "domain sockets")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(str(path))
            return sock
        except BlockingIOError:  # its backlog is full: wait a little, within bounds
            if time.monotonic() > deadline:
                sock.close()
                raise
            time.sleep(0.05)
        except OSError:
            sock.close()
            raise


def request(path: Path, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the running collector (unix socket or loopback + token file)."""
    body = dict(body)
    try:
        with _connect(path, body, timeout) as sock:
            sock.settimeout(timeout)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(orjson.dumps(body) + b"\n")  # refused early ("busy"): read why
            reply = orjson.loads(sock.makefile("rb").readline(MAX_ANSWER_BYTES))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise StackNotRunning(f"no collector is running (no control socket at {path})",
                              hint="start it with 'deskpulse collect'") from exc
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DeskpulseError(f"the collector did not answer on {path}: {exc}") from exc
    if not isinstance(reply, dict):
        raise DeskpulseError(f"the collector on {path} answered something unreadable")
    if "error" in reply:
        raise DeskpulseError(f"the collector refused: {reply['error']}")
    return reply

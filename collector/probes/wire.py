"""A minimal Wayland client speaking the wire protocol directly (no libwayland, no bindings).

The collector needs a handful of messages from three protocols, all without
file descriptors: the core registry and seat, ``wlr-foreign-toplevel-management-
unstable-v1`` (app id, title, activated) and an idle protocol (``ext-idle-notify-v1``
or KDE's ``org_kde_kwin_idle``). The wire format is small and stable (32-bit
object id, 16-bit size and opcode, 4-byte-aligned arguments), so speaking it here
costs ~200 lines and no compiled dependency: pywayland installs from PyPI but ships
no module for the wlroots protocol, Debian 12 packages no XML for it, and libwayland
through cffi would add megabytes of RSS to an agent that runs all day.

Only what is listed in :data:`EVENTS` is decoded; other events are skipped by their
size, so a newer compositor version never breaks the parser.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

from collector.probes import ProbeLost, ProbeUnavailable

logger = logging.getLogger(__name__)

DISPLAY_ID = 1
#: event signatures per interface, by opcode: u uint, i int, s string, a array, o object, n new_id
EVENTS: dict[str, tuple[str, ...]] = {
    "wl_display": ("ous", "u"),                     # error, delete_id
    "wl_registry": ("usu", "u"),                    # global, global_remove
    "wl_callback": ("u",),                          # done
    "wl_seat": ("u", "s"),                          # capabilities, name
    "zwlr_foreign_toplevel_manager_v1": ("n", ""),  # toplevel, finished
    # title, app_id, output_enter, output_leave, state, done, closed, parent
    "zwlr_foreign_toplevel_handle_v1": ("s", "s", "o", "o", "a", "", "", "o"),
    "ext_idle_notification_v1": ("", ""),           # idled, resumed
    "org_kde_kwin_idle_timeout": ("", ""),          # idle, resumed
}
#: the interface of the object a new_id event argument creates
NEW_OBJECTS = {("zwlr_foreign_toplevel_manager_v1", 0): "zwlr_foreign_toplevel_handle_v1"}

Handler = Callable[[int, int, list], None]  # (object id, opcode, args)


def socket_path(env: dict[str, str]) -> Path:
    """Where ``WAYLAND_DISPLAY`` lives (relative names are under ``XDG_RUNTIME_DIR``)."""
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    if name.startswith("/"):
        return Path(name)
    runtime = env.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise ProbeUnavailable("XDG_RUNTIME_DIR is not set, so the Wayland socket cannot be "
                               "found", hint="run the collector inside the desktop session")
    return Path(runtime) / name


def _pad(n: int) -> int:
    return (n + 3) & ~3


def encode_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<I", len(raw)) + raw + b"\0" * (_pad(len(raw)) - len(raw))


def decode_args(signature: str, body: bytes) -> list:
    """Decode one event's arguments; raises ValueError on a short or malformed body."""
    out: list = []
    pos = 0
    for kind in signature:
        if pos + 4 > len(body):
            raise ValueError("truncated event")
        if kind == "i":
            out.append(struct.unpack_from("<i", body, pos)[0])
            pos += 4
        elif kind in "uon":
            out.append(struct.unpack_from("<I", body, pos)[0])
            pos += 4
        else:  # s, a: length-prefixed, padded to 4 bytes
            (length,) = struct.unpack_from("<I", body, pos)
            pos += 4
            if pos + length > len(body):
                raise ValueError("truncated string or array")
            raw = body[pos:pos + length]
            pos += _pad(length)
            out.append(raw[:-1].decode("utf-8", "replace") if kind == "s" and raw else
                       "" if kind == "s" else raw)
    return out


def encode_message(obj: int, opcode: int, payload: bytes = b"") -> bytes:
    return struct.pack("<II", obj, ((8 + len(payload)) << 16) | opcode) + payload


class Connection:
    """One Wayland connection: request encoding, event decoding, object ids."""

    def __init__(self, env: dict[str, str], timeout: float = 5.0) -> None:
        path = socket_path(env)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as exc:
            self.sock.close()
            raise ProbeUnavailable(f"cannot connect to the Wayland compositor at {path}: "
                                   f"{exc.strerror or exc}",
                                   hint="is the compositor running, and WAYLAND_DISPLAY and "
                                        "XDG_RUNTIME_DIR those of its session?") from exc
        self.sock.setblocking(False)
        self._buf = b""
        self._next_id = 2
        self.interfaces: dict[int, str] = {DISPLAY_ID: "wl_display"}
        self.handlers: dict[int, Handler] = {}

    def new_id(self, interface: str) -> int:
        oid, self._next_id = self._next_id, self._next_id + 1
        self.interfaces[oid] = interface
        return oid

    def send(self, obj: int, opcode: int, payload: bytes = b"") -> None:
        data = encode_message(obj, opcode, payload)
        try:
            self.sock.setblocking(True)
            self.sock.sendall(data)
        except OSError as exc:
            raise ProbeLost(f"the Wayland compositor went away: {exc}") from exc
        finally:
            self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> None:
        """Read what is there and dispatch every complete event; ProbeLost at EOF."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            raise ProbeLost(f"the Wayland compositor went away: {exc}") from exc
        if not chunk:
            raise ProbeLost("the Wayland compositor went away (connection closed)")
        self._buf += chunk
        while len(self._buf) >= 8:
            obj, word = struct.unpack_from("<II", self._buf)
            size, opcode = word >> 16, word & 0xFFFF
            if size < 8:
                raise ProbeLost(f"the Wayland compositor sent a malformed message (size {size})")
            if len(self._buf) < size:
                break
            body, self._buf = self._buf[8:size], self._buf[size:]
            self._dispatch(obj, opcode, body)

    def _dispatch(self, obj: int, opcode: int, body: bytes) -> None:
        interface = self.interfaces.get(obj)
        signatures = EVENTS.get(interface or "")
        if signatures is None or opcode >= len(signatures):
            return  # an object or event we do not follow: skipped by its size
        try:
            args = decode_args(signatures[opcode], body)
        except ValueError as exc:
            logger.debug("skipping a malformed %s event %d: %s", interface, opcode, exc)
            return
        created = NEW_OBJECTS.get((interface or "", opcode))
        if created is not None:
            self.interfaces[args[0]] = created
        if obj == DISPLAY_ID and opcode == 0:
            raise ProbeLost(f"the Wayland compositor reported an error on object {args[0]}: "
                            f"{args[2]} (code {args[1]})")
        if obj == DISPLAY_ID and opcode == 1:
            self.interfaces.pop(args[0], None)
            self.handlers.pop(args[0], None)
            return
        handler = self.handlers.get(obj)
        if handler is not None:
            handler(obj, opcode, args)

    def wait_readable(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    # -- core requests ----------------------------------------------------------------
    def get_registry(self, handler: Handler) -> int:
        rid = self.new_id("wl_registry")
        self.handlers[rid] = handler
        self.send(DISPLAY_ID, 1, struct.pack("<I", rid))
        return rid

    def bind(self, registry: int, name: int, interface: str, version: int,
             handler: Handler | None = None) -> int:
        oid = self.new_id(interface)
        if handler is not None:
            self.handlers[oid] = handler
        self.send(registry, 0, struct.pack("<I", name) + encode_string(interface)
                  + struct.pack("<II", version, oid))
        return oid

    def roundtrip(self, timeout: float = 5.0) -> None:
        """wl_display.sync, then dispatch until its callback is done (bounded)."""
        done: list[bool] = []
        cid = self.new_id("wl_callback")
        self.handlers[cid] = lambda *_: done.append(True)
        self.send(DISPLAY_ID, 0, struct.pack("<I", cid))
        deadline = time.monotonic() + timeout
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeUnavailable("the Wayland compositor did not answer in time")
            if self.wait_readable(left):
                self.read()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

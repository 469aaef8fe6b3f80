"""Just enough of the X11 core protocol for the X11 probe, over a plain socket.

The probe asks five things of the server, synchronously from one thread: InternAtom,
GetProperty, QueryExtension, and MIT-SCREEN-SAVER's QueryInfo (besides the connection
setup, with the ``MIT-MAGIC-COOKIE-1`` from ``XAUTHORITY``/``~/.Xauthority``).
python-xlib does it all but loads some 40 modules of pure Python (and ``six``), about
2 MB of the collector's 30 MB RSS budget (issue 21); this is about 200 lines.

Errors are :class:`XError` with the protocol's error code (:data:`BAD_WINDOW`...);
a connection that fails or closes is :class:`XConnectionLost` (an ``OSError``); a
display that cannot be opened is :class:`XDisplayError`. Events (the server sends
``MappingNotify`` to every client) are read and dropped.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
import threading

BAD_VALUE, BAD_WINDOW, BAD_ATOM, BAD_MATCH, BAD_DRAWABLE = 2, 3, 5, 8, 9
ANY_PROPERTY_TYPE = 0
CARDINAL, STRING, WM_NAME, WM_CLASS = 6, 31, 39, 67  # predefined atoms
_INTERN_ATOM, _GET_PROPERTY, _QUERY_EXTENSION = 16, 20, 98
_SCREENSAVER_QUERY_INFO = 1
_COOKIE = b"MIT-MAGIC-COOKIE-1"
_FAMILY_INTERNET, _FAMILY_LOCAL, _FAMILY_WILD = 0, 256, 65535
MAX_PROPERTY_WORDS = 64 * 1024  # 256 KiB: far more than any title, class or pid
#: a server that answers nothing for this long is taken as gone (the probe then stops)
ANSWER_TIMEOUT_S = 30.0


class XDisplayError(Exception):
    """The display cannot be opened (no server, refused, bad name)."""


class XConnectionLost(OSError):
    """The connection to the X server failed or closed."""


class XError(Exception):
    """The server answered a request with an error."""

    def __init__(self, code: int, major: int) -> None:
        super().__init__(f"X error {code} on request {major}")
        self.code, self.major = code, major


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def parse_display(name: str) -> tuple[str, int, int]:
    """``(host, display, screen)`` of ``[host]:display[.screen]``; host '' is local."""
    host, sep, rest = name.rpartition(":")
    number, _, screen = rest.partition(".")
    if not sep or not number.isdigit() or (screen and not screen.isdigit()):
        raise XDisplayError(f"bad display name {name!r}")
    host = host.split("/")[-1]  # "unix/:0", "tcp/host:0"
    return ("" if host == "unix" else host), int(number), int(screen or 0)


def read_xauthority(data: bytes) -> list[tuple[int, bytes, bytes, bytes, bytes]]:
    """The entries of an Xauthority file: ``(family, address, number, name, data)``."""
    entries, at = [], 0
    try:
        while at < len(data):
            (family,) = struct.unpack_from(">H", data, at)
            at += 2
            fields = []
            for _ in range(4):
                (length,) = struct.unpack_from(">H", data, at)
                fields.append(data[at + 2:at + 2 + length])
                at += 2 + length
            entries.append((family, *fields))
    except struct.error:
        pass  # a truncated last entry: the ones before it stand
    return entries


def find_cookie(entries: list[tuple[int, bytes, bytes, bytes, bytes]], family: int,
                address: bytes, number: int) -> bytes | None:
    """The MIT-MAGIC-COOKIE-1 for this display, as libXau chooses it (first match)."""
    for fam, addr, num, name, data in entries:
        if (fam == _FAMILY_WILD or (fam == family and addr == address)) and \
                num in (b"", str(number).encode()) and name == _COOKIE:
            return data
    return None


def _cookie(host: str, number: int, sock: socket.socket) -> bytes | None:
    path = os.environ.get("XAUTHORITY") or os.path.join(os.path.expanduser("~"), ".Xauthority")
    try:
        with open(path, "rb") as fh:
            entries = read_xauthority(fh.read())
    except OSError:
        return None
    if sock.family == socket.AF_UNIX:
        return find_cookie(entries, _FAMILY_LOCAL, socket.gethostname().encode(), number)
    if sock.family == socket.AF_INET:
        return find_cookie(entries, _FAMILY_INTERNET, socket.inet_aton(sock.getpeername()[0]),
                           number)
    return find_cookie(entries, _FAMILY_WILD, b"", number)


def _connect(host: str, number: int) -> socket.socket:
    if host:
        return socket.create_connection((host, 6000 + number), timeout=10)
    path = f"/tmp/.X11-unix/X{number}"
    candidates = [path] + (["\0" + path] if sys.platform.startswith("linux") else [])
    error: OSError | None = None
    for address in candidates:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = error or exc
    assert error is not None
    raise error


class Connection:
    """One client connection; every method sends a request and waits for its answer."""

    def __init__(self, name: str) -> None:
        host, number, screen = parse_display(name)
        try:
            self._sock = _connect(host, number)
        except OSError as exc:
            raise XDisplayError(f"cannot connect to {name!r}: {exc}") from exc
        self._lock = threading.Lock()
        self._seq = 0
        self._buffer = b""
        try:
            self.root = self._setup(self._cookie_for(host, number), screen)
        except (OSError, struct.error) as exc:
            self._sock.close()
            raise XDisplayError(f"cannot open {name!r}: {exc}") from exc
        except XDisplayError:
            self._sock.close()
            raise
        self._sock.settimeout(ANSWER_TIMEOUT_S)
        self._extensions: dict[bytes, int | None] = {}

    def _cookie_for(self, host: str, number: int) -> bytes | None:
        return _cookie(host, number, self._sock)

    # -- the wire --------------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise XConnectionLost("the X server closed the connection")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def _setup(self, cookie: bytes | None, screen: int) -> int:
        name, data = (_COOKIE, cookie) if cookie else (b"", b"")
        self._sock.sendall(struct.pack("<BxHHHHxx", 0x6C, 11, 0, len(name), len(data)) +
                           name + bytes(_pad(len(name))) + data + bytes(_pad(len(data))))
        status, reason_len, _major, _minor, length = struct.unpack("<BBHHH", self._read(8))
        extra = self._read(length * 4)
        if status != 1:
            reason = extra[:reason_len] if status == 0 else extra
            raise XDisplayError("the X server refused the connection: "
                                f"{reason.decode('latin-1', 'replace').strip(chr(0)).strip()}")
        vendor_len, = struct.unpack_from("<H", extra, 16)
        screens, formats = extra[20], extra[21]
        at = 32 + vendor_len + _pad(vendor_len) + 8 * formats
        if screen >= screens:
            raise XDisplayError(f"the X server has no screen {screen}")
        for _ in range(screen):  # skip the screens before ours with their depths
            depths = extra[at + 39]
            at += 40
            for _ in range(depths):
                (visuals,) = struct.unpack_from("<H", extra, at + 2)
                at += 8 + 24 * visuals
        (root,) = struct.unpack_from("<I", extra, at)
        return root

    def _request(self, data: bytes) -> bytes:
        """Send one request (a whole number of words) and return its 32-byte reply + extra."""
        with self._lock:
            try:
                self._sock.sendall(data)
                self._seq = (self._seq + 1) & 0xFFFF
                while True:
                    head = self._read(32)
                    kind = head[0] & 0x7F
                    if kind == 0:  # an error
                        code, seq, _bad, _minor, major = struct.unpack_from("<BHIHB", head, 1)
                        if seq == self._seq:
                            raise XError(code, major)
                        continue
                    if kind == 1 or kind == 35:  # a reply, or a generic event: both longer
                        (length,) = struct.unpack_from("<I", head, 4)
                        extra = self._read(length * 4)
                        if kind == 1 and struct.unpack_from("<H", head, 2)[0] == self._seq:
                            return head + extra
                        continue
                    # any other event (MappingNotify): nothing the probe asked for
            except XConnectionLost:
                raise
            except OSError as exc:
                raise XConnectionLost(str(exc)) from exc

    # -- the requests ----------------------------------------------------------------------
    def intern_atom(self, name: str) -> int:
        raw = name.encode("latin-1")
        reply = self._request(struct.pack("<BBHHxx", _INTERN_ATOM, 0,
                                          2 + (len(raw) + _pad(len(raw))) // 4, len(raw)) +
                              raw + bytes(_pad(len(raw))))
        return struct.unpack_from("<I", reply, 8)[0]

    def get_property(self, window: int, prop: int,
                     kind: int = ANY_PROPERTY_TYPE) -> tuple[int, int, bytes] | None:
        """``(type, format, value bytes)`` of a property, None where the window has none."""
        reply = self._request(struct.pack("<BBHIIIII", _GET_PROPERTY, 0, 6, window, prop, kind,
                                          0, MAX_PROPERTY_WORDS))
        fmt = reply[1]
        actual, _after, count = struct.unpack_from("<III", reply, 8)
        if actual == 0:
            return None
        return actual, fmt, reply[32:32 + count * (fmt // 8)]

    def get_cardinals(self, window: int, prop: int, kind: int = ANY_PROPERTY_TYPE) -> list[int]:
        """A format-32 property as numbers ([] where there is none or it is not format 32)."""
        got = self.get_property(window, prop, kind)
        if got is None or got[1] != 32:
            return []
        return list(struct.unpack(f"<{len(got[2]) // 4}I", got[2]))

    def extension_opcode(self, name: str) -> int | None:
        """The extension's major opcode, None where the server lacks it (asked once)."""
        raw = name.encode("latin-1")
        if raw not in self._extensions:
            reply = self._request(struct.pack("<BxHHxx", _QUERY_EXTENSION,
                                              2 + (len(raw) + _pad(len(raw))) // 4, len(raw)) +
                                  raw + bytes(_pad(len(raw))))
            self._extensions[raw] = reply[9] if reply[8] else None
        return self._extensions[raw]

    def screensaver_idle_ms(self, drawable: int) -> int:
        """MIT-SCREEN-SAVER QueryInfo's ``ms-since-user-input`` for ``drawable``'s screen."""
        major = self.extension_opcode("MIT-SCREEN-SAVER")
        if major is None:
            raise XError(BAD_VALUE, 0)
        reply = self._request(struct.pack("<BBHI", major, _SCREENSAVER_QUERY_INFO, 2, drawable))
        return struct.unpack_from("<I", reply, 16)[0]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

"""The running collector's local control socket (private mode and status).

A Unix domain socket, mode 0600, in the user's runtime dir: only the person
logged in can pause, resume or ask for status. One JSON request per
connection, one JSON answer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from deskpulse.errors import ConfigError, DeskpulseError, StackNotRunning

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    def __init__(self, path: Path, handle: Handler) -> None:
        if not hasattr(socket, "AF_UNIX"):
            raise ConfigError("this platform has no Unix domain sockets; the control socket "
                              "is not available here")
        self.path = path
        self._handle = handle
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket of a collector that was killed
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._sock.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    request = orjson.loads(conn.makefile("rb").readline())
                    answer = self._handle(request) if isinstance(request, dict) else \
                        {"error": "expected a JSON object"}
                except (orjson.JSONDecodeError, OSError) as exc:
                    answer = {"error": f"bad request: {exc}"}
                except DeskpulseError as exc:
                    answer = {"error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall(orjson.dumps(answer) + b"\n")

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def request(path: Path, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the running collector."""
    if not hasattr(socket, "AF_UNIX"):
        raise ConfigError("this platform has no Unix domain sockets")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(orjson.dumps(body) + b"\n")
            answer = orjson.loads(sock.makefile("rb").readline())
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise StackNotRunning(f"no collector is running (no control socket at {path})",
                              hint="start it with 'deskpulse collect'") from exc
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DeskpulseError(f"the collector did not answer on {path}: {exc}") from exc
    if "error" in answer:
        raise DeskpulseError(f"the collector refused: {answer['error']}")
    return answer

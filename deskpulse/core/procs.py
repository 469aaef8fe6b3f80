"""Processes: children of the embedded stack (start, watch, stop — bounded in time), and
what every entry point does about signals (:func:`stop_on_signals`) and a parent that
went away (:func:`exit_when_orphaned`).

``subprocess`` and ``argparse`` are imported where used: the collector, which runs all day
on every desktop, uses this module for its signals only (its RSS budget, issue 21).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from deskpulse.core.errors import StackError

if TYPE_CHECKING:
    import argparse

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:
    """Ask Linux to signal the child when its parent dies (no orphans after kill -9)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Child:
    """One supervised child process with its own log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: dict[str, str] | None = None, death_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        logger.debug("starting %s: %s", name, " ".join(argv))
        import subprocess
        self.proc = subprocess.Popen(  # noqa: S603 - argv built by us
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, preexec_fn=lambda: _die_with_parent(death_signal),
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        import subprocess
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def http_json(url: str, *, timeout: float = 2.0, body: bytes | None = None,
              token: str | None = None) -> tuple[int, object]:
    """GET (or POST ``body``) and decode the JSON answer; (status, value)."""
    import urllib.error  # here: the collector's process imports this module, never this
    import urllib.request
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, orjson.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return exc.code, {"error": raw.decode(errors="replace")}


def wait_ready(child: Child, url: str, timeout: float) -> dict:
    """Poll ``url`` until it answers 200, the child dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if not child.alive():
            raise StackError(f"{child.name} exited with code {child.proc.returncode} "
                             f"while starting; last lines of {child.log_path}:\n"
                             f"{child.log_tail()}")
        try:
            status, last = http_json(url, timeout=1.0)
            if status == 200 and isinstance(last, dict):
                return last
        except (OSError, orjson.JSONDecodeError) as exc:
            last = exc
        time.sleep(0.2)
    raise StackError(f"{child.name} was not ready after {timeout:.0f}s (last answer: {last!r})",
                     hint=f"see {child.log_path}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_when_orphaned(grace_s: float = 10.0, check_every_s: float = 0.5) -> None:
    """In a child of the stack: if the parent goes away, stop — hard after ``grace_s``.

    The parent death signal asks for a graceful stop, but a graceful stop can hang
    once the broker is gone too (the Kafka clients wait for it); this daemon
    thread makes sure the process never outlives its stack.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_every_s)
        logger.warning("parent %d is gone; stopping (hard stop in %.0fs)", parent, grace_s)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(70)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set instead of ending the process: the entry
    point's loop checks it and stops in order (main thread only)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def add_process_options(parser: argparse.ArgumentParser, *, loglevel: str
                        ) -> argparse.ArgumentParser:
    """The tail of every pipeline process's command line (stream worker, sink): its log
    level, and ``--standalone`` (not stopped by :func:`exit_when_orphaned` with its parent)."""
    parser.add_argument("--loglevel", default=loglevel)
    parser.add_argument("--standalone", action="store_true",
                        help="keep running when the parent process exits")
    return parser

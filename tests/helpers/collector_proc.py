"""`deskpulse collect` as a separate process for tests, configured through a config file."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import orjson

from collector.control import request
from deskpulse.core.errors import DeskpulseError
from deskpulse.core.procs import Child
from tests.conftest import wait_for


class CollectorProc:
    """`deskpulse collect` as a separate process, configured through a config file."""

    def __init__(self, tmp: Path, desktop, bootstrap: str, user: str, **collector) -> None:
        self.tmp, self.user = tmp, user
        self.socket = tmp / "ctl.sock"
        self.log = tmp / "collector.log"
        self.spool = tmp / "spool.db"
        settings = {"user": user, "host": "xvfb-host", "poll_interval": 0.5, "pulsetime": 1.5,
                    "idle_threshold": 2, "control_socket": str(self.socket),
                    "log_file": str(self.log), "spool_path": str(self.spool), **collector}
        body = "\n".join(f"{k} = {orjson.dumps(v).decode()}" for k, v in settings.items())
        self.config = tmp / "config.toml"
        self.config.write_text(f"[collector]\n{body}\n")
        self.env = {**desktop.env, "DESKPULSE_CONFIG": str(self.config),
                    "DESKPULSE_BOOTSTRAP": bootstrap, "DESKPULSE_DATA_DIR": str(tmp)}
        self.child: Child | None = None

    def start(self) -> None:
        self.child = Child("collector", [sys.executable, "-m", "deskpulse.cli", "collect"],
                           self.tmp / "collector.out", env=self.env)
        def answering() -> bool:
            assert self.child.alive(), self.child.log_tail()
            try:
                self.status()
                return True
            except DeskpulseError:  # not listening yet (or a stale socket of a killed one)
                return False
        wait_for(answering, 30, "the collector's control socket")

    def status(self) -> dict:
        return request(self.socket, {"cmd": "status"})

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop(timeout=30)

    def kill9(self) -> None:
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.proc.wait(10)

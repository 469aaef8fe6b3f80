"""The ``stack.json`` format: how other processes find a running embedded stack.

``deskpulse up`` records it in ``<data dir>/stack.json`` (mode 0600: the query token
is in it); :func:`kafka_or_stack` is the one step that falls back to it when no broker
is configured. Part of the kernel: stdlib and orjson only (no fcntl, no Kafka client),
so the collector reads it on every platform. Starting a stack is
:mod:`deskpulse.ops.embedded`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from deskpulse.core.errors import StackError, StackNotRunning
from deskpulse.core.privatefiles import write_private
from deskpulse.core.procs import pid_alive
from deskpulse.core.settings import KafkaSettings, Settings

STACK_FILE = "stack.json"
ADMIN_TOKEN_FILE = "admin.token"


@dataclass(frozen=True)
class StackInfo:
    """How to reach a running embedded stack (the content of ``stack.json``)."""

    pid: int
    data_dir: str
    broker: str
    store_url: str
    worker_url: str
    token: str
    partitions: int
    started_at: float
    #: part name -> pid of its process
    children: dict[str, int]
    #: the stack's device secret (deskpulse device enrol uses it; the simulated fleet signs)
    device_secret: str = ""

    def kafka(self, *, sign_as_stack: bool = True) -> KafkaSettings:
        """How a command reaches this stack's broker: the simulated fleet signs with the
        stack's secret (``sign_as_stack``); a real collector has a device credential of
        its own."""
        return KafkaSettings(bootstrap=self.broker, device_credential=Path(self.device_secret)
                             if self.device_secret and sign_as_stack else None)

    @staticmethod
    def path(data_dir: Path) -> Path:
        return data_dir / STACK_FILE

    def save(self) -> None:
        write_private(self.path(Path(self.data_dir)),
                      orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))

    def admin_token(self) -> str:
        """The admin credential of this stack (readable by the stack's user only)."""
        path = Path(self.data_dir) / ADMIN_TOKEN_FILE
        try:
            token = path.read_text().strip()
        except FileNotFoundError as exc:
            raise StackError(f"the stack has no admin credential at {path}",
                             hint="restart it with 'deskpulse up'") from exc
        except OSError as exc:
            raise StackError(f"cannot read the admin credential {path}: {exc.strerror}",
                             hint="admin operations need the account that runs the "
                                  "stack") from exc
        if not token:
            raise StackError(f"the admin credential {path} is empty",
                             hint="restart the stack with 'deskpulse up'")
        return token

    @classmethod
    def load(cls, data_dir: Path) -> StackInfo:
        path = cls.path(data_dir)
        try:
            info = cls(**orjson.loads(path.read_bytes()))
        except FileNotFoundError as exc:
            raise StackNotRunning(f"no embedded stack is running with data dir {data_dir}",
                                  hint="start one with 'deskpulse up', or point "
                                       "--data-dir / DESKPULSE_DATA_DIR at it") from exc
        except (OSError, orjson.JSONDecodeError, TypeError) as exc:
            raise StackError(f"cannot read {path}: {exc}") from exc
        if not pid_alive(info.pid):
            raise StackNotRunning(f"the stack recorded in {path} (pid {info.pid}) is not running",
                                  hint="start it again with 'deskpulse up'")
        return info


def kafka_or_stack(settings: Settings, *, sign_as_stack: bool = True) -> KafkaSettings:
    """The configured broker, else the running embedded stack's behind ``settings.data_dir``
    (a :class:`StackNotRunning` when there is none)."""
    if settings.kafka is not None:
        return settings.kafka
    return StackInfo.load(settings.data_dir).kafka(sign_as_stack=sign_as_stack)

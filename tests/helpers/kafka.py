"""A real Apache Kafka (KRaft) for the tests: fetched once from Maven Central, run on loopback.

The broker is not installed on the machine: :func:`fetch` resolves the pinned release
(``org.apache.kafka:kafka_2.13`` with its runtime dependencies, the server tools and a log4j
binding) with Maven from Maven Central, once, into a cache dir (``DESKPULSE_KAFKA_CACHE``,
default ``~/.cache/deskpulse/kafka-<version>``), and nothing is downloaded from anywhere
else. Java 17 (Debian's ``openjdk-17-jre-headless``) runs it.

:class:`KafkaCluster` formats KRaft storage for one combined broker/controller, or for
three (each node its own ports and log dir), starts them as child processes, waits until
every broker answers, and stops every process it started (SIGTERM with a bounded wait, then
SIGKILL). With ``secure=True`` it is laid out as ``deploy/compose/docker-compose.yml``
describes the production brokers: listeners ``CONTROLLER`` (PLAINTEXT), ``INTERNAL``
(SASL_PLAINTEXT, between brokers) and ``CLIENTS`` (SASL_SSL, SCRAM-SHA-512, a test CA),
the StandardAuthorizer with no ``allow.everyone.if.no.acl.found``, and the super users
``User:broker`` and ``User:ANONYMOUS``; :meth:`KafkaCluster.bin_dir` gives the ``kafka-*.sh``
commands that ``deploy/compose/kafka-setup.sh`` calls.

JVM flags are chosen for a 2-core test machine: a small heap, the serial collector, class
data sharing, C1 only; KRaft settings for quick elections.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from deskpulse.core.procs import Child, free_port, port_in_use

logger = logging.getLogger(__name__)

#: the pinned release (Maven Central serves 4.0.0 .. 4.4.0; 4.1.1 is a patch release)
KAFKA_VERSION = "4.1.1"
SCALA = "2.13"
#: what the broker, its storage tool and the admin tools need at run time
ARTIFACTS = (
    f"org.apache.kafka:kafka_{SCALA}:{KAFKA_VERSION}",
    f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
    "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3",
)
#: the JVM of every broker and tool: small heap, serial GC, class data sharing, C1 only
JVM_FLAGS = ("-Xms64m", "-Xmx320m", "-XX:+UseSerialGC", "-Xshare:auto",
             "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")
#: the admin tools' main classes, as the distribution's bin/*.sh call them
TOOLS = {
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-storage.sh": "kafka.tools.StorageTool",
    "kafka-metadata-quorum.sh": "org.apache.kafka.tools.MetadataQuorumCommand",
}
LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = info
"""


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing, or the release could not be fetched (the tier is skipped)."""


def java_version() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)', done.stderr)
    return int(match.group(1)) if match else None


def cache_dir() -> Path:
    base = os.environ.get("DESKPULSE_KAFKA_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "deskpulse"
    return root / f"kafka-{KAFKA_VERSION}"


def unavailable() -> str | None:
    """Why the real-Kafka tier cannot run here, or None."""
    version = java_version()
    if version is None:
        return "no Java on this machine (apt-get install openjdk-17-jre-headless)"
    if version < 17:
        return f"Kafka {KAFKA_VERSION} needs Java 17, this machine has Java {version}"
    if not (cache_dir() / "libs" / ".complete").exists() and shutil.which("mvn") is None:
        return "no Maven to fetch the Kafka jars (apt-get install maven)"
    return None


def _pom() -> str:
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>" for g, a, v in (x.split(":") for x in ARTIFACTS))
    return ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0'
            '</modelVersion><groupId>deskpulse.tests</groupId><artifactId>kafka-broker'
            '</artifactId><version>1</version><packaging>pom</packaging>'
            f'<dependencies>{deps}</dependencies></project>')


def fetch(timeout: float = 900.0) -> Path:
    """The folder of the pinned release's jars, fetched from Maven Central the first time."""
    root = cache_dir()
    libs = root / "libs"
    if (libs / ".complete").exists():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be fetching it
        if (libs / ".complete").exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaUnavailable("no Maven to fetch the Kafka jars")
        with tempfile.TemporaryDirectory(dir=root) as work:
            (Path(work) / "pom.xml").write_text(_pom())
            out = Path(work) / "libs"
            started = time.monotonic()
            done = subprocess.run(
                [mvn, "-q", "-B", "-f", str(Path(work) / "pom.xml"),
                 "dependency:copy-dependencies", f"-DoutputDirectory={out}",
                 "-DincludeScope=runtime"],
                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                raise KafkaUnavailable(f"mvn could not fetch Kafka {KAFKA_VERSION}: "
                                       f"{(done.stdout + done.stderr)[-2000:]}")
            (out / ".complete").write_text(f"{time.monotonic() - started:.1f}s\n")
            shutil.rmtree(libs, ignore_errors=True)
            out.rename(libs)
        (root / "log4j2.properties").write_text(LOG4J)
    return libs


def cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def java_argv(libs: Path, main: str, *args: str) -> list[str]:
    log4j = libs.parent / "log4j2.properties"
    return [shutil.which("java") or "java", *JVM_FLAGS, f"-Dlog4j2.configurationFile={log4j}",
            "-cp", f"{libs}/*", main, *args]


@dataclass
class Node:
    node_id: int
    port: int  #: the clients' listener
    controller_port: int
    internal_port: int
    folder: Path
    child: Child | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Security:
    """SCRAM-SHA-512 over TLS for clients, as in the compose file."""

    ca_pem: Path
    broker_password: str

    def client(self, user: str, password: str) -> dict[str, str]:
        """librdkafka settings of a client that logs in as ``user``."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": user, "sasl.password": password,
                "ssl.ca.location": str(self.ca_pem)}


class KafkaCluster:
    """One combined broker/controller, or three, on loopback; see the module docstring."""

    def __init__(self, folder: Path, *, nodes: int = 1, secure: bool = False,
                 broker_config: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self._libs: Path | None = None
        self.secure = secure
        self.extra = dict(broker_config or {})
        self.nodes = [Node(i, free_port(), free_port(), free_port(), folder / f"node-{i}")
                      for i in range(1, nodes + 1)]
        self.security: Security | None = None
        self.started_in: float | None = None  #: seconds from format to every broker answering

    @property
    def libs(self) -> Path:
        """The release's jars (fetched on first use)."""
        if self._libs is None:
            self._libs = fetch()
        return self._libs

    # -- addresses -------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes)

    @property
    def internal_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.internal_port}" for n in self.nodes)

    def admin_settings(self) -> dict[str, str]:
        """librdkafka settings of an admin client with every right (the super user)."""
        if self.security is None:
            return {"bootstrap.servers": self.bootstrap}
        return {"bootstrap.servers": self.bootstrap,
                **self.security.client("broker", self.security.broker_password)}

    def admin(self) -> AdminClient:
        return AdminClient(self.admin_settings())

    # -- configuration ---------------------------------------------------------------------
    def _properties(self, node: Node) -> str:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        replicas = str(min(3, len(self.nodes)))
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(node.folder / "data"),
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "min.insync.replicas": "2" if len(self.nodes) >= 3 else "1",
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": "2" if len(self.nodes) >= 3 else "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": "1",
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # quick elections and failure detection on loopback
            "controller.quorum.election.timeout.ms": "1000",
            "controller.quorum.fetch.timeout.ms": "2000",
            "controller.quorum.election.backoff.max.ms": "500",
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "replica.lag.time.max.ms": "5000",
            "leader.imbalance.check.interval.seconds": "5",
            "log.cleaner.backoff.ms": "500",
            "log.segment.delete.delay.ms": "1000",
            "log.initial.task.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
        }
        props.update({
            "listeners": f"CONTROLLER://127.0.0.1:{node.controller_port},"
                         f"INTERNAL://127.0.0.1:{node.internal_port},"
                         f"CLIENTS://127.0.0.1:{node.port}",
            "advertised.listeners": f"INTERNAL://127.0.0.1:{node.internal_port},"
                                    f"CLIENTS://127.0.0.1:{node.port}",
            "inter.broker.listener.name": "INTERNAL",
        })
        if self.secure:
            assert self.security is not None
            props.update({
                "listener.security.protocol.map":
                    "CONTROLLER:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CLIENTS:SASL_SSL",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "listener.name.internal.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="broker" password="{self.security.broker_password}";',
                "listener.name.clients.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(self.folder / "certs" / "kafka.pem"),
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(self.security.ca_pem),
                "authorizer.class.name":
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false",
                "super.users": "User:broker;User:ANONYMOUS",
            })
        else:
            props["listener.security.protocol.map"] = \
                "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,CLIENTS:PLAINTEXT"
        props.update(self.extra)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _make_certs(self) -> None:
        certs = self.folder / "certs"
        certs.mkdir(parents=True, exist_ok=True)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True,
                           timeout=60)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=deskpulse test CA", "-keyout", "ca.key", "-out", "ca.pem")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", "kafka.key", "-out", "kafka.csr")
        (certs / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "kafka.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "kafka.crt")
        (certs / "kafka.pem").write_bytes((certs / "kafka.key").read_bytes()
                                          + (certs / "kafka.crt").read_bytes())
        os.chmod(certs / "kafka.pem", 0o600)

    # -- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> KafkaCluster:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.secure:
            self._make_certs()
            self.security = Security(self.folder / "certs" / "ca.pem",
                                     broker_password=uuid.uuid4().hex)
        cid = cluster_id()
        try:
            for node in self.nodes:
                node.folder.mkdir(parents=True, exist_ok=True)
                (node.folder / "server.properties").write_text(self._properties(node))
                args = ["format", "-t", cid, "-c", str(node.folder / "server.properties")]
                if self.security is not None:  # the brokers' own user, before any start
                    args += ["--add-scram", "SCRAM-SHA-512=[name=broker,password="
                             f"{self.security.broker_password}]"]
                self.tool("kafka-storage.sh", *args, timeout=60)
            for node in self.nodes:
                self.start_node(node.node_id)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        logger.info("kafka: %d node(s) answered %.1fs after format", len(self.nodes),
                    self.started_in)
        return self

    def start_node(self, node_id: int) -> None:
        node = self.node(node_id)
        assert node.child is None or not node.child.alive(), f"node {node_id} is running"
        node.child = Child(f"kafka-{node_id}", java_argv(
            self.libs, "kafka.Kafka", str(node.folder / "server.properties")),
            node.folder / "server.log", death_signal=signal.SIGKILL)

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    def wait_ready(self, timeout: float = 60.0, nodes: list[int] | None = None) -> None:
        """Every (or each named) broker registered and answering metadata requests."""
        want = set(nodes or [n.node_id for n in self.nodes])
        deadline = time.monotonic() + timeout
        last: object = None
        for n in self.nodes:  # listening first, so librdkafka does not log refused connections
            while n.node_id in want and not port_in_use("127.0.0.1", n.port) \
                    and time.monotonic() < deadline and n.child is not None and n.child.alive():
                time.sleep(0.05)
        while time.monotonic() < deadline:
            for n in self.nodes:
                if n.child is not None and not n.child.alive() and n.node_id in want:
                    raise KafkaUnavailable(f"kafka node {n.node_id} exited with code "
                                           f"{n.child.proc.returncode}:\n{n.child.log_tail(30)}")
            try:
                brokers = self.admin().list_topics(timeout=2).brokers
                if want <= set(brokers):
                    return
                last = sorted(brokers)
            except KafkaException as exc:
                last = exc
            time.sleep(0.2)
        raise KafkaUnavailable(f"kafka brokers {sorted(want)} not all up after {timeout:.0f}s "
                               f"(last: {last!r})")

    def kill9(self, node_id: int) -> None:
        child = self.node(node_id).child
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        child.proc.wait(10)
        child.stop(timeout=1)

    def stop_node(self, node_id: int, timeout: float = 30.0) -> int | None:
        child = self.node(node_id).child
        return None if child is None else child.stop(timeout=timeout)

    def stop(self) -> None:
        """Stop every node this cluster started: SIGTERM, a bounded wait, then SIGKILL."""
        running = [n.child for n in self.nodes if n.child is not None and n.child.alive()]
        for child in running:  # all at once: the last of a quorum would wait for the others
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(max(0.1, deadline - time.monotonic()))
        for node in self.nodes:
            if node.child is not None:
                node.child.stop(timeout=1)  # SIGKILL whatever is left

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- tools -----------------------------------------------------------------------------
    def tool(self, name: str, *args: str, timeout: float = 60.0,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of Kafka's own command-line tools (``kafka-configs.sh`` ...)."""
        done = subprocess.run(java_argv(self.libs, TOOLS[name], *args), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise KafkaUnavailable(f"{name} {' '.join(args[:2])} failed: "
                                   f"{(done.stdout + done.stderr)[-1500:]}")
        return done

    def bin_dir(self) -> Path:
        """A folder of ``kafka-*.sh`` commands running this release's tools (for scripts)."""
        folder = self.folder / "bin"
        folder.mkdir(parents=True, exist_ok=True)
        for name, main in TOOLS.items():
            argv = " ".join(f"'{a}'" for a in java_argv(self.libs, main))
            path = folder / name
            path.write_text(f"#!/bin/sh\nexec {argv} \"$@\"\n")
            path.chmod(0o755)
        return folder

    def active_controller(self) -> int:
        """The node id of the KRaft quorum's leader (the active controller)."""
        config = self.folder / "tool.properties"
        lines: list[str] = []
        if self.security is not None:
            lines = ["security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
                     "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule"
                     f' required username="broker" password="{self.security.broker_password}";',
                     "ssl.truststore.type=PEM",
                     f"ssl.truststore.location={self.security.ca_pem}"]
        config.write_text("\n".join(lines) + "\n")
        done = self.tool("kafka-metadata-quorum.sh", "--bootstrap-server", self.bootstrap,
                         "--command-config", str(config), "describe", "--status")
        match = re.search(r"LeaderId:\s+(\d+)", done.stdout)
        if match is None:
            raise KafkaUnavailable(f"no quorum leader in: {done.stdout[-500:]}")
        return int(match.group(1))

    def leader_of(self, topic: str, partition: int = 0) -> int:
        meta = self.admin().list_topics(topic, timeout=10).topics[topic]
        return meta.partitions[partition].leader


# -- a shared broker's reset between test modules -------------------------------------------
def reset(cluster: KafkaCluster, timeout: float = 60.0) -> None:
    """Delete every topic and consumer group of earlier tests (the pipeline's topic names are
    fixed, so a module sharing the session's broker starts from an empty broker)."""
    admin = cluster.admin()
    groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=10)
              .result(timeout=15).valid]
    if groups:
        for future in admin.delete_consumer_groups(groups, request_timeout=10).values():
            with contextlib.suppress(KafkaException):
                future.result(15)
    names = [t for t in admin.list_topics(timeout=10).topics if not t.startswith("__")]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(KafkaException):
                future.result(30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [t for t in admin.list_topics(timeout=10).topics if not t.startswith("__")]
        if not left:
            return
        time.sleep(0.2)
    raise KafkaUnavailable(f"topics not deleted after {timeout:.0f}s: {left}")


def main() -> None:
    """``python -m tests.helpers.kafka``: fetch the release (``make kafka-jars``)."""
    reason = unavailable()
    if reason:
        print(f"real Kafka tier skipped: {reason}")
        return
    libs = fetch()
    print(f"Apache Kafka {KAFKA_VERSION}: {len(list(libs.glob('*.jar')))} jars in {libs}")


if __name__ == "__main__":
    main()

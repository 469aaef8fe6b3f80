"""Shared fixtures: real services are started here, on loopback, and always stopped.

The broker of ``stack`` and ``broker`` is tansu unless a module or test is marked
``@pytest.mark.brokers`` (``pytest.mark.brokers("tansu", "kafka")`` by default): its tests
then run once on each broker named, the same test code on both. Apache Kafka is one
single-node KRaft broker for the whole session (``kafka_broker``), emptied before each module
that uses it; the 3-broker cluster is the fault tests' own (``tests/faults``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deskpulse.core.procs import free_port
from deskpulse.core.stackfile import StackInfo
from deskpulse.ops.broker import create_topics, start_broker
from deskpulse.ops.embedded import EmbeddedStack
from deskpulse.ops.store import StackStore
from tests.helpers import kafka

#: the brokers a ``@pytest.mark.brokers`` test runs on, when the mark names none
BROKER_KINDS = ("tansu", "kafka")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("brokers")
    if mark is not None and "broker_kind" in metafunc.fixturenames:
        metafunc.parametrize("broker_kind", mark.args or BROKER_KINDS, scope="module")


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.25) -> object:
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def assert_settles(read: Callable[[], object], want: object, timeout: float = 120,
                   what: str = "the stored totals") -> None:
    """``read()`` reaches ``want`` and stays there; fail with the difference otherwise.

    Spans and rollups travel on separate topics and are written in separate batches, so the
    rollups of the last span may land a moment after it. Waiting on the spans alone and then
    reading the rollups is a race; this waits for the rollups themselves, then gives anything
    counted twice the time to arrive.
    """
    deadline = time.monotonic() + timeout
    while read() != want and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    assert read() == want, f"{what} did not settle on the expected value"


@pytest.fixture(scope="module")
def broker_kind() -> str:
    """Which broker this module's ``stack`` / ``broker`` run on (see the module docstring)."""
    return "tansu"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka.KafkaCluster]:
    """One Apache Kafka (KRaft, combined broker/controller) for the session; skipped with
    the reason on a machine without Java (or Maven to fetch the jars the first time)."""
    reason = kafka.unavailable()
    if reason:
        pytest.skip(f"real Kafka tier: {reason}")
    cluster = kafka.KafkaCluster(tmp_path_factory.mktemp("kafka"), nodes=1)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _fresh_kafka(request: pytest.FixtureRequest) -> kafka.KafkaCluster:
    cluster: kafka.KafkaCluster = request.getfixturevalue("kafka_broker")
    kafka.reset(cluster)
    return cluster


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str,
           request: pytest.FixtureRequest) -> Iterator[str]:
    """A bare broker with the pipeline's topics (no worker, no sink)."""
    if broker_kind == "kafka":
        bootstrap = _fresh_kafka(request).bootstrap
        create_topics(bootstrap, 3)
        yield bootstrap
        return
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    child = start_broker(bootstrap, log, partitions=3)
    try:
        yield bootstrap
    finally:
        child.stop(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker_kind: str,
          request: pytest.FixtureRequest) -> Iterator[StackInfo]:
    """The whole embedded stack (broker + Faust worker + sink with chDB) for a test module;
    on Apache Kafka the worker and sink are the same, only the broker is the session's."""
    data_dir: Path = tmp_path_factory.mktemp("stack")
    external = _fresh_kafka(request).bootstrap if broker_kind == "kafka" else None
    embedded = EmbeddedStack(data_dir, kafka_port=0, partitions=4, broker=external)
    info = embedded.start()
    try:
        yield info
    finally:
        embedded.stop()


@pytest.fixture(scope="module")
def stack_store(stack: StackInfo) -> StackStore:
    return StackStore(stack)


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory):
    """The in-process chDB engine: one per process, so one store for the whole session."""
    from sinks import migrate
    from sinks.writer import ClientStore, connect
    client = connect(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    migrate.apply(ClientStore(client))
    return client


@pytest.fixture(scope="module")
def chdb(chdb_client):
    """The session's chDB store, emptied for this module."""
    tables = chdb_client.query(
        "SELECT name FROM system.tables WHERE database = 'deskpulse' AND engine LIKE '%MergeTree' "
        "AND name != 'schema_migrations'").result_rows
    for (name,) in tables:
        chdb_client.command(f"TRUNCATE TABLE deskpulse.{name}")
    return chdb_client

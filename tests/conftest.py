"""Shared fixtures: real services are started here, on loopback, and always stopped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deskpulse.core.procs import free_port
from deskpulse.core.stackfile import StackInfo
from deskpulse.ops.broker import start_broker
from deskpulse.ops.embedded import EmbeddedStack
from deskpulse.ops.store import StackStore


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
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bare tansu broker with the pipeline's topics (no worker, no sink)."""
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    child = start_broker(bootstrap, log, partitions=3)
    try:
        yield bootstrap
    finally:
        child.stop(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """The whole embedded stack (tansu + Faust worker + sink with chDB) for a test module."""
    data_dir: Path = tmp_path_factory.mktemp("stack")
    embedded = EmbeddedStack(data_dir, kafka_port=0, partitions=4)
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

"""TLS to the real broker (stunnel in front of tansu, a test CA) and SASL enforcement.

tansu's own ``--cert`` does not turn TLS on (DESIGN.md), so TLS is terminated by
stunnel and tansu advertises the TLS port: every client connection, bootstrap and
data, goes through TLS. The collector's publisher and a real stream worker process
connect with the CA; a plaintext client and a client trusting another CA are refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import orjson
import pytest
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from collector.publisher import Publisher
from deskpulse.core.procs import Child, free_port, http_json, port_in_use
from deskpulse.core.settings import KafkaSettings
from deskpulse.ops.broker import create_topics, start_broker
from schemas import topics
from schemas.activity import ActivityEvent
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)


@pytest.fixture()
def tls_broker(tmp_path):
    stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
    if stunnel is None or shutil.which("openssl") is None:
        message = "stunnel4/openssl not installed (.ci/run installs them)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    make_ca(tmp_path, "ca")
    make_ca(tmp_path, "other-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
            "broker.key", "-out", "broker.csr", cwd=tmp_path)
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.pem",
            cwd=tmp_path)
    plain, tls = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    broker = start_broker(plain, tmp_path / "broker.log", advertised=tls)
    conf = tmp_path / "stunnel.conf"
    conf.write_text(f"foreground = yes\npid =\n[kafka]\naccept = {tls}\nconnect = {plain}\n"
                    f"cert = {tmp_path / 'broker.pem'}\nkey = {tmp_path / 'broker.key'}\n")
    terminator = Child("stunnel", [stunnel, str(conf)], tmp_path / "stunnel.log")
    try:
        extra = {"security.protocol": "SSL", "ssl.ca.location": str(tmp_path / "ca.pem")}
        wait_for(lambda: _answers(tls, extra), timeout=30, what="TLS through stunnel")
        create_topics(tls, 2, extra=extra)
        yield tls, extra, tmp_path
    finally:
        terminator.stop(timeout=5)
        broker.stop(timeout=5)


def _answers(bootstrap: str, extra: dict) -> bool:
    try:
        AdminClient({"bootstrap.servers": bootstrap, **extra}).list_topics(timeout=2)
        return True
    except KafkaException:
        return False


def event(i: int) -> ActivityEvent:
    now = int(time.time() * 1000)
    return ActivityEvent(schema="deskpulse.activity.v1", event_id=f"tls-{i}", tenant="acme",
                         host="pc", user="tls-user", app="code", start_ms=now - 60_000 + i,
                         end_ms=now - 30_000 + i)


def test_collector_and_stream_worker_work_over_tls_and_others_are_refused(tls_broker):
    bootstrap, extra, tmp = tls_broker
    assert not _answers(bootstrap, {}), "a plaintext client is refused by the TLS port"
    assert not _answers(bootstrap, {**extra, "ssl.ca.location": str(tmp / "other-ca.pem")}), \
        "a client that does not trust the broker's CA is refused"

    publisher = Publisher(KafkaSettings(bootstrap=bootstrap, extra=extra))
    assert publisher.publish(event(i) for i in range(50)) == 50
    assert publisher.flush(30) == 0

    port = free_port()
    env = {**os.environ, "DESKPULSE_KAFKA_SECURITY_PROTOCOL": "SSL",
           "DESKPULSE_KAFKA_SSL_CA_LOCATION": extra["ssl.ca.location"]}
    worker = Child("worker", [sys.executable, "-m", "streams.worker", "--bootstrap", bootstrap,
                              "--data-dir", str(tmp / "w"),
                              "--web-port", str(port)], tmp / "worker.log", env=env)
    try:
        def processed() -> bool:
            assert worker.alive(), worker.log_tail()
            try:
                _, body = http_json(f"http://127.0.0.1:{port}/health", timeout=2)
            except OSError:
                return False
            return isinstance(body, dict) and body.get("accepted", 0) >= 50
        wait_for(processed, timeout=120, what="the worker to process the events over TLS")
    finally:
        worker.stop(timeout=20)

    consumer = Consumer({"bootstrap.servers": bootstrap, **extra, "group.id": "tls-check",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topics.SPANS])
    spans: list[dict] = []
    deadline = time.monotonic() + 30
    try:
        while len(spans) < 50 and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if not msg.error():
                    spans.extend(orjson.loads(msg.value()))
    finally:
        consumer.close()
    assert sorted(s["event_id"] for s in spans) == sorted(f"tls-{i}" for i in range(50))


def test_a_broker_requiring_sasl_refuses_clients_without_valid_credentials(tmp_path):
    bootstrap = f"127.0.0.1:{free_port()}"
    broker = start_broker(bootstrap, tmp_path / "broker.log", authentication=True)
    try:
        wait_for(lambda: broker.alive() and _listening(bootstrap), timeout=20,
                 what="the broker to listen")
        assert not _answers(bootstrap, {}), "no credentials: refused"
        scram = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                 "sasl.username": "mallory", "sasl.password": "guess"}
        assert not _answers(bootstrap, scram), "unknown credentials: refused"
        assert broker.alive()
    finally:
        broker.stop(timeout=5)


def _listening(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    return port_in_use(host, int(port))

"""SASL_SSL with SCRAM-SHA-512 and ACLs on a real Apache Kafka, as the deploy files set it up.

Three KRaft brokers laid out like ``deploy/compose/docker-compose.yml`` (listeners
CONTROLLER, INTERNAL (SASL_PLAINTEXT) and CLIENTS (SASL_SSL), StandardAuthorizer, no
allow-everyone, super users broker and ANONYMOUS), a test CA; then the compose site's own
``deploy/compose/kafka-setup.sh`` runs against them with Kafka's own tools: it creates the
SCRAM users, the topics and the ACLs. The ACLs tested are therefore the deploy file's, and
``tests/unit/test_deploy.py`` proves the Strimzi example grants the same ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from collector.publisher import Publisher
from deskpulse.core.procs import Child, free_port, http_json, wait_ready
from deskpulse.core.settings import KafkaSettings
from schemas import topics
from schemas.activity import ActivityEvent
from tests.conftest import wait_for
from tests.helpers import kafka

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "deploy" / "compose" / "kafka-setup.sh"
PIPELINE, COLLECTOR = "deskpulse-pipeline", "deskpulse-collector"
TOKEN = uuid.uuid4().hex


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory):
    reason = kafka.unavailable()
    if reason:
        pytest.skip(f"real Kafka tier: {reason}")
    cluster = kafka.KafkaCluster(tmp_path_factory.mktemp("kafka-secure"), nodes=3, secure=True)
    cluster.start()
    try:
        assert cluster.security is not None
        passwords = {PIPELINE: uuid.uuid4().hex, COLLECTOR: uuid.uuid4().hex}
        done = subprocess.run(
            ["bash", str(SETUP)], capture_output=True, text=True, timeout=300,
            env={**os.environ, "BOOTSTRAP": cluster.internal_bootstrap.split(",")[0],
                 "KAFKA_BIN": str(cluster.bin_dir()),
                 "KAFKA_BROKER_PASSWORD": cluster.security.broker_password,
                 "DESKPULSE_PIPELINE_PASSWORD": passwords[PIPELINE],
                 "DESKPULSE_COLLECTOR_PASSWORD": passwords[COLLECTOR]})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "users, topics and ACLs are in place" in done.stdout
        yield cluster, passwords
    finally:
        cluster.stop()


def login(cluster: kafka.KafkaCluster, user: str, password: str) -> dict[str, str]:
    assert cluster.security is not None
    return cluster.security.client(user, password)


def env_of(extra: dict[str, str]) -> dict[str, str]:
    """The ``DESKPULSE_KAFKA_*`` variables that carry librdkafka settings to a process."""
    return {"DESKPULSE_KAFKA_" + k.upper().replace(".", "_"): v for k, v in extra.items()}


def event(i: int) -> ActivityEvent:
    now = int(time.time() * 1000)
    return ActivityEvent(schema="deskpulse.activity.v1", event_id=f"sec-{i}", tenant="acme",
                         host="pc", user="sasl-user", app="code", start_ms=now - 60_000 + i,
                         end_ms=now - 30_000 + i)


def test_collector_publishes_and_the_pipeline_stores_over_sasl_ssl(secure, tmp_path):
    cluster, passwords = secure
    collector = login(cluster, COLLECTOR, passwords[COLLECTOR])
    publisher = Publisher(KafkaSettings(bootstrap=cluster.bootstrap, extra=collector))
    assert publisher.publish(event(i) for i in range(200)) == 200
    assert publisher.flush(60) == 0

    env = {**os.environ, **env_of(login(cluster, PIPELINE, passwords[PIPELINE]))}
    env.pop("DESKPULSE_ADMIN_TOKEN", None)
    sink_port, web_port = free_port(), free_port()
    sink = Child("sink", [sys.executable, "-m", "sinks.main", "--bootstrap", cluster.bootstrap,
                          "--clickhouse", f"chdb://{tmp_path / 'store'}",
                          "--http-port", str(sink_port)], tmp_path / "sink.log",
                 env={**env, "DESKPULSE_QUERY_TOKEN": TOKEN})
    worker = Child("worker", [sys.executable, "-m", "streams.worker", "--bootstrap",
                              cluster.bootstrap, "--data-dir", str(tmp_path / "w"),
                              "--web-port", str(web_port)], tmp_path / "worker.log", env=env)
    try:
        wait_ready(worker, f"http://127.0.0.1:{web_port}/health", 120)
        wait_ready(sink, f"http://127.0.0.1:{sink_port}/health", 120)

        def stored() -> int:
            status, body = http_json(f"http://127.0.0.1:{sink_port}/query", token=TOKEN,
                                     body=b'{"sql": "SELECT count() FROM '
                                          b'deskpulse.activity_spans WHERE user = '
                                          b"'sasl-user'\"}")
            assert status == 200, body
            return int(body["rows"][0][0])
        wait_for(lambda: stored() == 200, 120, "the spans stored through SASL_SSL")
    finally:
        worker.stop(timeout=20)
        sink.stop(timeout=20)


def _produce_error(settings: dict[str, str], topic: str) -> KafkaError | None:
    errors: list[KafkaError | None] = []
    producer = Producer({**settings, "message.timeout.ms": 10_000})
    producer.produce(topic, key=b"acme/x", value=b"{}",
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(20)
    return errors[0] if errors else KafkaError(KafkaError._TIMED_OUT)


def _login_error(settings: dict[str, str]) -> KafkaError | None:
    """The first error a client reports while it connects (librdkafka's error callback)."""
    errors: list[KafkaError] = []
    producer = Producer({**settings, "error_cb": errors.append, "log_level": 0})
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    return errors[0] if errors else None


def _consume_error(settings: dict[str, str], topic: str) -> KafkaError | None:
    consumer = Consumer({**settings, "group.id": f"deskpulse-sneak-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for msg in consumer.consume(10, 0.5):
                if msg.error():
                    return msg.error()
                return None  # it read a record
        return None
    except KafkaException as exc:
        return exc.args[0]
    finally:
        consumer.close()


def test_a_collector_credential_writes_activity_only(secure):
    cluster, passwords = secure
    collector = {"bootstrap.servers": cluster.bootstrap,
                 **login(cluster, COLLECTOR, passwords[COLLECTOR])}
    assert _produce_error({**collector, "enable.idempotence": True}, topics.ACTIVITY) is None
    denied = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)
    for topic in (topics.POLICY_DNT, topics.POLICY_SCHEDULE, topics.POLICY_CATEGORY,
                  topics.POLICY_DEVICE, topics.SPANS, topics.ROLLUPS, topics.DEADLETTER,
                  topics.STREAMS_SEEN):
        err = _produce_error(collector, topic)
        assert err is not None and err.code() in denied, (topic, err)
    # and it reads nothing: not the activity of other people or tenants, not a policy
    for topic in (topics.ACTIVITY, topics.POLICY_DNT, topics.SPANS):
        err = _consume_error(collector, topic)
        assert err is not None and err.code() in denied, (topic, err)
    pipeline = {"bootstrap.servers": cluster.bootstrap,
                **login(cluster, PIPELINE, passwords[PIPELINE])}
    assert _produce_error(pipeline, topics.SPANS) is None, "the pipeline's principal may"


def test_a_wrong_password_and_a_plaintext_client_are_refused(secure, tmp_path):
    cluster, passwords = secure
    wrong = login(cluster, PIPELINE, "not-the-password")
    err = _login_error({"bootstrap.servers": cluster.bootstrap, **wrong})
    assert err is not None and err.code() == KafkaError._AUTHENTICATION, err
    assert "invalid credentials" in err.str()
    plain = _login_error({"bootstrap.servers": cluster.bootstrap})
    assert plain is not None, "a plaintext client gets nothing from the SASL_SSL listener"
    assert plain.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), plain

    # the CLI says so in one line, with no traceback
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DESKPULSE_")},
           **env_of(wrong), "HOME": str(tmp_path)}
    done = subprocess.run([str(Path(sys.executable).with_name("deskpulse")), "dnt", "list",
                           "--bootstrap", cluster.bootstrap], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("BrokerUnavailable: ") and "invalid credentials" in lines[0]

    # and so does a stream worker, which stops instead of waiting for ever
    port = free_port()
    worker = Child("worker", [sys.executable, "-m", "streams.worker", "--bootstrap",
                              cluster.bootstrap, "--data-dir", str(tmp_path / "w"),
                              "--web-port", str(port)], tmp_path / "worker.log",
                   env={**env, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(lambda: not worker.alive(), 90, "the worker to give up")
        assert worker.proc.returncode != 0
        log = [ln for ln in worker.log_path.read_text().splitlines() if "[ERROR]" in ln]
        assert any("cannot read the policy topics" in ln and "invalid credentials" in ln
                   for ln in log), log
        assert not any("cannot join thread" in ln for ln in log), log
    finally:
        worker.stop(timeout=10)

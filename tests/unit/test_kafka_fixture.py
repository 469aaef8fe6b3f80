"""The real-Kafka test fixture: laid out as the compose file's brokers; skipped without Java."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers import kafka

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: what the secure test cluster must share with the production brokers of the compose site
SHARED = ("process.roles", "controller.listener.names", "inter.broker.listener.name",
          "listener.security.protocol.map", "sasl.enabled.mechanisms",
          "sasl.mechanism.inter.broker.protocol", "authorizer.class.name",
          "allow.everyone.if.no.acl.found", "super.users", "ssl.keystore.type",
          "ssl.truststore.type", "default.replication.factor", "min.insync.replicas",
          "auto.create.topics.enable")


def compose_broker() -> dict[str, str]:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    env = {**compose["x-kafka"]["environment"], **compose["services"]["kafka-1"]["environment"]}
    return {k[len("KAFKA_"):].lower().replace("_", "."): str(v) for k, v in env.items()
            if k.startswith("KAFKA_")}


def secure_properties(tmp_path: Path) -> dict[str, str]:
    cluster = kafka.KafkaCluster(tmp_path, nodes=3, secure=True)
    cluster.security = kafka.Security(tmp_path / "ca.pem", broker_password="pw")
    text = cluster._properties(cluster.nodes[0])
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_secure_test_cluster_is_configured_like_the_compose_brokers(tmp_path):
    mine, theirs = secure_properties(tmp_path), compose_broker()
    assert {k: mine[k] for k in SHARED} == {k: theirs[k] for k in SHARED}
    names = [entry.split("://")[0] for entry in mine["listeners"].split(",")]
    assert names == [entry.split("://")[0] for entry in theirs["listeners"].split(",")]
    assert "allow.everyone.if.no.acl.found" in mine  # refused by default, as in production


def test_without_java_the_tier_says_why(monkeypatch):
    monkeypatch.setattr(kafka.shutil, "which", lambda name: None)
    assert "no Java" in (kafka.unavailable() or "")


def test_the_release_is_resolved_from_pinned_maven_coordinates():
    pom = kafka._pom()
    for coordinate in kafka.ARTIFACTS:
        group, artifact, version = coordinate.split(":")
        assert f"<artifactId>{artifact}</artifactId><version>{version}</version>" in pom
    assert kafka.KAFKA_VERSION.startswith("4.")


def test_the_compose_site_runs_the_kafka_release_the_tests_prove() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    images = {compose["x-kafka"]["image"]} | {
        svc["image"] for svc in compose["services"].values()
        if str(svc.get("image", "")).startswith("apache/kafka:")}
    assert images == {f"apache/kafka:{kafka.KAFKA_VERSION}"}

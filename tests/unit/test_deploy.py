"""The deployment files, checked by the tools this machine has, against what the code reads."""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import kubernetes_validate
import orjson
import pytest
import yaml
from confluent_kafka import Producer

from collector.config import collector_settings
from deskpulse.settings import kafka_extra_from_env, load_settings
from sinks.main import build_parser as sink_parser
from streams.worker import build_parser as worker_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
PARSERS = {"streams.worker": worker_parser, "sinks.main": sink_parser}


def substituted(text: str) -> str:
    """Compose ``${VAR...}`` and Kubernetes ``$(VAR)`` placeholders filled with samples."""
    text = re.sub(r"\$\{(\w+)[^}]*\}", lambda m: {"KAFKA_PUBLIC_HOST": "localhost"}.get(
        m.group(1), "x"), text)
    return re.sub(r"\$\((\w+)\)", "x:1", text)


def check_args(args: list[str]) -> None:
    """The container's ``python -m MODULE ARGS``, parsed by that module's real parser."""
    module, *rest = args
    PARSERS[module]().parse_args([substituted(a) for a in rest])


def check_librdkafka(extra: dict[str, str]) -> None:
    """librdkafka refuses unknown properties: every key must be a real one.

    File settings point at files of the target machine; a CA bundle of this one stands in.
    """
    bundle = ssl.get_default_verify_paths().openssl_cafile
    Producer({"bootstrap.servers": "127.0.0.1:1",
              **{k: bundle if k.endswith(".location") else v for k, v in extra.items()}})


def tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if found is None:
        message = f"{name} not installed (.ci/run and the dev extras install it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return found


def test_compose_file_is_valid_and_passes_what_the_code_reads():
    path = DEPLOY / "compose" / "docker-compose.yml"
    done = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    compose = yaml.safe_load(substituted(path.read_text()))
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "clickhouse", "clickhouse-keeper", "grafana",
            "streams", "sink"} <= set(services)
    for name in ("streams", "sink"):
        check_args(services[name]["command"])
        check_librdkafka(kafka_extra_from_env(services[name]["environment"]))
    grafana_mounts = " ".join(services["grafana"]["volumes"])
    assert "../grafana/provisioning" in grafana_mounts and "../grafana/dashboards" in grafana_mounts


def test_kubernetes_manifests_validate_and_pass_what_the_code_reads():
    docs = [d for f in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]
    assert {d["kind"] for d in docs} >= {"Namespace", "ConfigMap", "Secret", "Deployment",
                                         "Service", "PodDisruptionBudget"}
    for doc in docs:
        kubernetes_validate.validate(doc, "1.31", strict=True)
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    check_librdkafka({**kafka_extra_from_env(config), "sasl.password": "x"})
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        check_args(container["args"])
        assert container["livenessProbe"]["httpGet"]["path"] == "/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        assert container["resources"]["requests"]
    examples = [d for f in sorted((DEPLOY / "kubernetes" / "examples").glob("*.yaml"))
                for d in yaml.safe_load_all(f.read_text()) if d]
    assert {d["kind"] for d in examples} >= {"Kafka", "KafkaTopic", "KafkaUser",
                                             "ClickHouseInstallation"}


def test_systemd_unit_verifies(tmp_path):
    unit = (DEPLOY / "systemd" / "deskpulse-collector.service").read_text()
    assert "ExecStart=/opt/deskpulse/bin/deskpulse collect" in unit
    installed = tmp_path / "deskpulse-collector.service"  # as the Ansible role installs it
    installed.write_text(unit.replace("/opt/deskpulse", str(BIN.parent)))
    done = subprocess.run([tool("systemd-analyze"), "verify", str(installed)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Restart=on-failure" in unit and "WantedBy=graphical-session.target" in unit


def test_launchd_agent_and_windows_task():
    plist = plistlib.loads((DEPLOY / "launchd" / "com.deskpulse.collector.plist").read_bytes())
    assert plist["ProgramArguments"][1:] == ["collect"]
    assert plist["KeepAlive"] == {"SuccessfulExit": False} and plist["RunAtLoad"]
    assert "DESKPULSE_CONFIG" in plist["EnvironmentVariables"]
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    task = ET.parse(DEPLOY / "windows" / "deskpulse-collector-task.xml").getroot()
    assert task.find("t:Triggers/t:LogonTrigger", ns) is not None
    assert task.find("t:Settings/t:RestartOnFailure/t:Count", ns).text == "999"
    args = shlex.split(task.find("t:Actions/t:Exec/t:Arguments", ns).text)
    assert args[0] == "collect" and args[1] == "--config"
    script = (DEPLOY / "windows" / "install-collector.ps1").read_text()
    assert "deskpulse-collector-task.xml" in script and "-Force" in script


def test_ansible_role_syntax_and_its_config_is_what_the_collector_reads(tmp_path):
    done = subprocess.run([tool("ansible-playbook"), "--syntax-check", "-i",
                           str(DEPLOY / "ansible" / "inventory.example.ini"),
                           str(DEPLOY / "ansible" / "site.yml")],
                          capture_output=True, text=True, timeout=120, cwd=DEPLOY / "ansible")
    assert done.returncode == 0, done.stdout + done.stderr
    role = DEPLOY / "ansible" / "roles" / "deskpulse_collector"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    values = {**defaults, "deskpulse_sasl_password": "s3cret", "deskpulse_ca_cert_src": "ca.pem",
              "deskpulse_browser_token": "t" * 32, "deskpulse_hours": "mon-fri 07:00-19:00",
              "deskpulse_redact": ["secret-\\w+"]}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = lambda v: orjson.dumps(v).decode()
    config = tmp_path / "collector.toml"
    config.write_text(env.from_string((role / "templates" / "collector.toml.j2").read_text())
                      .render(**values))
    parsed = tomllib.loads(config.read_text())
    settings = load_settings(config=config, environ={})
    assert settings.tenant == "default" and settings.kafka is not None
    assert settings.kafka.bootstrap == defaults["deskpulse_bootstrap"]
    check_librdkafka(dict(settings.kafka.extra))
    collector = collector_settings(parsed["collector"], {}, tenant=settings.tenant,
                                   data_dir=tmp_path)
    assert collector.browser_port == 5866 and collector.hours == "mon-fri 07:00-19:00"
    unit = (role / "templates" / "deskpulse-collector.service.j2").read_text()
    assert "Environment=DESKPULSE_CONFIG=/etc/deskpulse/collector.toml" in unit
    tasks = (role / "tasks" / "main.yml").read_text()
    assert "dest: /etc/deskpulse/collector.toml" in tasks


def test_the_sink_takes_no_secret_on_its_command_line():
    from deskpulse.stack import sink_args, sink_env
    argv = sink_args("127.0.0.1:9092", "chdb:///x", 8123)
    assert sink_parser().parse_args(argv).http_port == 8123
    env = sink_env("-Ab_c" + "x" * 16, "admin" * 4, base={})
    assert env == {"DESKPULSE_QUERY_TOKEN": "-Ab_c" + "x" * 16,
                   "DESKPULSE_ADMIN_TOKEN": "admin" * 4}
    assert not any("Ab_c" in a for a in argv)
    with pytest.raises(SystemExit):
        sink_parser().parse_args([*argv, "--token=secret"])
    for path in (DEPLOY / "compose" / "docker-compose.yml", DEPLOY / "kubernetes" / "sink.yaml"):
        text = path.read_text()
        assert "--token" not in text and "--clickhouse=" not in text.split("sinks.main")[1]

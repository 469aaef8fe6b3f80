"""The deployment files, checked by the tools this machine has, against what the code reads."""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import shutil
import ssl
import stat
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
from deskpulse.core.settings import kafka_extra_from_env, load_settings
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
    from deskpulse.ops.embedded import sink_args, sink_env
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


def role_task(name_start: str) -> dict:
    tasks = yaml.safe_load((DEPLOY / "ansible" / "roles" / "deskpulse_collector" / "tasks" /
                            "main.yml").read_text())
    [task] = [t for t in tasks if t["name"].startswith(name_start)]
    return task


def test_ansible_writes_the_secrets_readable_by_the_collectors_group_only(tmp_path):
    role = DEPLOY / "ansible" / "roles" / "deskpulse_collector"
    tasks = yaml.safe_load((role / "tasks" / "main.yml").read_text())
    names = [t["name"] for t in tasks]
    write = role_task("Collector configuration is written")
    module = write["ansible.builtin.template"]
    assert module["dest"] == "/etc/deskpulse/collector.toml"
    # a quoted octal string: an unquoted 640 would be decimal (mode 01200)
    assert isinstance(module["mode"], str) and int(module["mode"], 8) == 0o640
    assert module["owner"] == "root" and module["group"] == "{{ deskpulse_group }}"
    group = role_task("Group of the people")
    assert group["ansible.builtin.group"]["name"] == "{{ deskpulse_group }}"
    members = role_task("People measured on this computer")
    assert names.index(group["name"]) < names.index(members["name"]) < names.index(write["name"])
    assert members["ansible.builtin.user"]["append"] is True

    # who gets into the group: the listed logins that exist, else the people (uid range)
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    assert defaults["deskpulse_group"] == "deskpulse" and defaults["deskpulse_users"] == []
    passwd = {"root": ["x", "0"], "www-data": ["x", "33"], "alice": ["x", "1000"],
              "bob": ["x", "1001"], "nobody": ["x", "65534"]}
    when = jinja2.Environment().compile_expression(members["when"])

    def chosen(users: list[str]) -> set[str]:
        return {name for name, fields in passwd.items()
                if when(**{**defaults, "deskpulse_users": users,
                           "item": {"key": name, "value": fields}})}
    assert chosen([]) == {"alice", "bob"}
    assert chosen(["bob", "ghost"]) == {"bob"}, "only existing logins, never a new account"

    # the task as Ansible applies it (into a scratch dir, with this machine's owner and group)
    import grp
    import pwd
    me, my_group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    dest = tmp_path / "collector.toml"
    values = {**defaults, "deskpulse_sasl_password": "s3cret", "deskpulse_browser_token": "t" * 32}
    values["ansible_python_interpreter"] = sys.executable
    play = [{"hosts": "localhost", "gather_facts": False, "vars": values, "tasks": [{
        "name": write["name"],
        "ansible.builtin.template": {**module, "src": str(role / "templates" / module["src"]),
                                     "dest": str(dest), "owner": me, "group": my_group}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    done = subprocess.run([tool("ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml")], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path,
                          env={**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
                               "ANSIBLE_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert 's3cret' in dest.read_text()


# -- Kafka principals and ACLs -----------------------------------------------------------------

#: (principal, operation, resource type, resource name, pattern type)
Acl = tuple[str, str, str, str, str]
COLLECTOR = "deskpulse-collector"
PIPELINE = "deskpulse-pipeline"


def compose_setup() -> tuple[set[Acl], dict[str, tuple[int, bool]]]:
    """The ACLs and the topics (partitions, compacted) kafka-setup.sh creates."""
    acls: set[Acl] = set()
    created: dict[str, tuple[int, bool]] = {}
    for line in (DEPLOY / "compose" / "kafka-setup.sh").read_text().splitlines():
        if not line.startswith(("acl ", "topic ")):
            continue
        words = shlex.split(line, comments=True)
        if words[:1] == ["acl"]:
            principal, rest = words[1].removeprefix("User:"), words[2:]
            ops = [rest[i + 1] for i, w in enumerate(rest) if w == "--operation"]
            pattern = "prefix" if "--resource-pattern-type" in rest and \
                rest[rest.index("--resource-pattern-type") + 1] == "prefixed" else "literal"
            if "--cluster" in rest:
                resource = ("cluster", "kafka-cluster", "literal")
            else:
                kind = "topic" if "--topic" in rest else "group"
                resource = (kind, rest[rest.index(f"--{kind}") + 1], pattern)
            acls |= {(principal, op, *resource) for op in ops}
        elif words[:1] == ["topic"]:
            created[words[1]] = (int(words[2]), "cleanup.policy=compact" in words)
    return acls, created


def strimzi() -> list[dict]:
    path = DEPLOY / "kubernetes" / "examples" / "strimzi-kafka.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def strimzi_acls(docs: list[dict]) -> set[Acl]:
    acls: set[Acl] = set()
    for user in (d for d in docs if d["kind"] == "KafkaUser"):
        for rule in user["spec"]["authorization"]["acls"]:
            res = rule["resource"]
            resource = ("cluster", "kafka-cluster", "literal") if res["type"] == "cluster" \
                else (res["type"], res["name"], res.get("patternType", "literal"))
            acls |= {(user["metadata"]["name"], op, *resource) for op in rule["operations"]}
    return acls


def allowed(acls: set[Acl], principal: str, operation: str, kind: str, name: str) -> bool:
    return any(p == principal and op in (operation, "All") and k == kind and (
        n == name if pattern == "literal" else name.startswith(n))
        for p, op, k, n, pattern in acls)


def test_collectors_may_only_write_the_activity_topic_and_the_pipeline_owns_the_rest():
    from schemas.topics import ALL_TOPICS, COLLECTOR_TOPICS
    compose_acls, created = compose_setup()
    for where, acls in (("compose", compose_acls), ("strimzi", strimzi_acls(strimzi()))):
        assert {a[0] for a in acls} == {COLLECTOR, PIPELINE}, where
        collector = {a[1:] for a in acls if a[0] == COLLECTOR}
        assert collector == {("Write", "topic", t, "literal") for t in COLLECTOR_TOPICS} | \
            {("Describe", "topic", t, "literal") for t in COLLECTOR_TOPICS} | \
            {("IdempotentWrite", "cluster", "kafka-cluster", "literal")}, where
        for topic in ALL_TOPICS:
            may_write = allowed(acls, COLLECTOR, "Write", "topic", topic.name)
            assert may_write == (topic.name in COLLECTOR_TOPICS), (where, topic.name)
            assert not allowed(acls, COLLECTOR, "Read", "topic", topic.name), where
            for op in ("Read", "Write", "Describe"):
                assert allowed(acls, PIPELINE, op, "topic", topic.name), (where, topic.name, op)
        for group in ("deskpulse-streams", "deskpulse-sink", "deskpulse-policy-0a1b",
                      "deskpulse-seen-0a1b"):
            assert allowed(acls, PIPELINE, "Read", "group", group), (where, group)
            assert not allowed(acls, COLLECTOR, "Read", "group", group), where
        assert not any(op == "All" for _, op, *_ in acls), f"{where}: no blanket rights"

    # every pipeline topic exists, compacted where the code expects it
    assert created == {t.name: (1 if t.single_partition else 12, t.compacted)
                       for t in ALL_TOPICS}
    topics = {d["metadata"]["name"]: d["spec"] for d in strimzi() if d["kind"] == "KafkaTopic"}
    assert set(topics) == {t.name for t in ALL_TOPICS}
    for t in ALL_TOPICS:
        assert (topics[t.name].get("config", {}).get("cleanup.policy") == "compact") == \
            t.compacted, t.name
        assert (topics[t.name]["partitions"] == 1) == t.single_partition, t.name


def test_the_compose_brokers_refuse_what_no_acl_allows_and_the_setup_runs_once():
    compose = yaml.safe_load(substituted((DEPLOY / "compose" / "docker-compose.yml")
                                         .read_text()))
    services = compose["services"]
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        env = services[name]["environment"]
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == \
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert COLLECTOR not in env["KAFKA_SUPER_USERS"] and PIPELINE not in \
            env["KAFKA_SUPER_USERS"]
    setup = services["kafka-setup"]
    assert setup["restart"] == "no" and "./kafka-setup.sh:" in setup["volumes"][0]
    done = subprocess.run(["bash", "-n", str(DEPLOY / "compose" / "kafka-setup.sh")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # the stream workers verify device signatures with the deployment secret
    args = worker_parser().parse_args([substituted(a) for a in services["streams"]["command"]
                                       [1:]])
    assert args.device_auth == "enforce" and "DESKPULSE_DEVICE_SECRET" in \
        services["streams"]["environment"]
    docs = [d for f in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]
    streams = next(d for d in docs if d["kind"] == "Deployment"
                   and d["metadata"]["name"] == "deskpulse-streams")
    [container] = streams["spec"]["template"]["spec"]["containers"]
    assert worker_parser().parse_args([substituted(a) for a in container["args"][1:]]
                                      ).device_auth == "enforce"
    assert "DESKPULSE_DEVICE_SECRET" in {e["name"] for e in container["env"]}

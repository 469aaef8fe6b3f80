import pytest

from deskpulse.core import settings as settings_module
from deskpulse.core.errors import ConfigError
from deskpulse.core.settings import KafkaSettings, load_settings


def test_flag_beats_env_beats_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('tenant = "filetenant"\n[kafka]\nbootstrap = "file:9092"\n'
                   '[kafka.extra]\n"sasl.password" = "hunter2"\n[clickhouse]\ndsn = "http://f"\n')
    env = {"DESKPULSE_CONFIG": str(cfg), "DESKPULSE_BOOTSTRAP": "env:9092",
           "DESKPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}
    s = load_settings(environ=env, bootstrap="flag:9092")
    assert s.kafka.bootstrap == "flag:9092"
    assert s.tenant == "filetenant" and s.clickhouse_dsn == "http://f"
    assert s.kafka.librdkafka()["security.protocol"] == "SASL_SSL"
    assert s.kafka.librdkafka()["sasl.password"] == "hunter2"
    assert "hunter2" not in repr(s)
    assert load_settings(environ=env).kafka.bootstrap == "env:9092"
    assert load_settings(environ={"DESKPULSE_CONFIG": str(cfg)}).kafka.bootstrap == "file:9092"


def test_defaults_point_at_embedded_stack(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_module, "default_config_path", lambda: tmp_path / "absent.toml")
    s = load_settings(environ={"DESKPULSE_DATA_DIR": str(tmp_path)})
    assert s.kafka is None and s.clickhouse_dsn is None
    assert s.tenant == "default" and s.data_dir == tmp_path


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config=tmp_path / "nope.toml", environ={})


def test_rate_limit_filter_passes_once_per_period():
    import logging

    from deskpulse.core.logs import RateLimit
    f = RateLimit(period=3600)

    def rec(msg):
        return logging.LogRecord("collector.kafka", logging.ERROR, "", 0, msg, (), None)

    assert f.filter(rec("Connect to 127.0.0.1:1234 failed"))
    assert not f.filter(rec("Connect to 127.0.0.1:1234 failed"))
    assert not f.filter(rec("Connect to 127.0.0.1:1235 failed")), "numbers do not make it new"
    assert f.filter(rec("another problem"))


def test_group_consumers_commit_by_hand_and_keep_the_tls_settings():
    kafka = KafkaSettings("b:9093", {"security.protocol": "SSL"})
    config = kafka.group_consumer("deskpulse-sink", 6000)
    assert config["group.id"] == "deskpulse-sink" and config["enable.auto.commit"] is False
    assert config["security.protocol"] == "SSL" and config["bootstrap.servers"] == "b:9093"
    assert config["session.timeout.ms"] == 6000


@pytest.mark.parametrize("bootstrap", [
    "kafka:9092", "kafka", "127.0.0.1:1", "[::1]:9092", "k_1.example.com:9093",
    "SASL_SSL://kafka-1.example.com:9093, kafka-2.example.com:9093"])
def test_bootstrap_lists_librdkafka_accepts_are_accepted(bootstrap):
    assert load_settings(bootstrap=bootstrap, environ={"DESKPULSE_CONFIG": "/dev/null"}) \
        .kafka.bootstrap == bootstrap


def test_empty_environment_variables_are_unset_and_typed_extras_become_librdkafka_text(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[kafka]\nbootstrap = "k:9092"\n[kafka.extra]\n"enable.idempotence" = true\n'
                   '"linger.ms" = 5\n')
    s = load_settings(environ={"DESKPULSE_CONFIG": str(cfg), "DESKPULSE_BOOTSTRAP": "",
                               "DESKPULSE_TENANT": ""})
    assert s.kafka.bootstrap == "k:9092" and s.tenant == "default"
    assert s.kafka.librdkafka()["enable.idempotence"] == "true"
    assert s.kafka.librdkafka()["linger.ms"] == "5"


def test_collector_values_from_toml_and_from_the_environment(tmp_path):
    from collector.config import collector_settings
    s = collector_settings({"poll_interval": 2, "capture_titles": False, "redact": ["a", "b"]},
                           {"idle_threshold": "90.5", "spool_max_events": "1000",
                            "url_mode": "host", "browser_port": "0"},
                           tenant="acme", data_dir=tmp_path)
    assert (s.poll_interval, s.capture_titles, s.redact) == (2.0, False, ("a", "b"))
    assert (s.idle_threshold, s.spool_max_events, s.url_mode) == (90.5, 1000, "host")
    assert collector_settings({}, {"capture_titles": "off", "redact": "x\ny"}, tenant="acme",
                              data_dir=tmp_path).redact == ("x", "y")

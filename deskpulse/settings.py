"""Typed, frozen settings; the environment and the config file are read here only.

Resolution order for every connection setting: command-line flag > environment
variable > config file > the running embedded stack (found through the data dir).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from deskpulse.errors import ConfigError

# Every environment variable deskpulse reads, in one place.
ENV_DATA_DIR = "DESKPULSE_DATA_DIR"
ENV_CONFIG = "DESKPULSE_CONFIG"
ENV_BOOTSTRAP = "DESKPULSE_BOOTSTRAP"
ENV_CLICKHOUSE = "DESKPULSE_CLICKHOUSE"
ENV_TENANT = "DESKPULSE_TENANT"
#: ``DESKPULSE_KAFKA_SECURITY_PROTOCOL=SASL_SSL`` becomes librdkafka's ``security.protocol``.
ENV_KAFKA_PREFIX = "DESKPULSE_KAFKA_"
#: ``DESKPULSE_COLLECTOR_POLL_INTERVAL=2`` overrides ``[collector] poll_interval``.
ENV_COLLECTOR_PREFIX = "DESKPULSE_COLLECTOR_"
#: the collector's device credential file (``[kafka] device_credential``)
ENV_DEVICE_CREDENTIAL = "DESKPULSE_DEVICE_CREDENTIAL"
#: the deployment (or a tenant's) secret that device keys derive from: a file, or the value
ENV_DEVICE_SECRET_FILE = "DESKPULSE_DEVICE_SECRET_FILE"
ENV_DEVICE_SECRET = "DESKPULSE_DEVICE_SECRET"

DEFAULT_TENANT = "default"
APP_NAME = "deskpulse"

_SECRET_WORDS = ("password", "secret", "token", "key.pem", "private")


def _mask(extra: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if any(w in k.lower() for w in _SECRET_WORDS) else v)
            for k, v in extra.items()}


@dataclass(frozen=True)
class KafkaSettings:
    """How to reach Kafka; ``extra`` is passed to librdkafka untouched (TLS, SASL, ...)."""

    bootstrap: str
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: the file whose credential signs what this process publishes to the activity topic
    device_credential: Path | None = None

    def librdkafka(self, **overrides: Any) -> dict[str, Any]:
        """The librdkafka configuration dict, ``overrides`` last."""
        return {"bootstrap.servers": self.bootstrap, **self.extra, **overrides}

    def group_consumer(self, group_id: str, session_timeout_ms: int) -> dict[str, Any]:
        """A consumer in ``group_id`` that commits by hand, after its outputs are stored."""
        return self.librdkafka(**{
            "group.id": group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": 1000,
        })

    def __repr__(self) -> str:
        return (f"KafkaSettings(bootstrap={self.bootstrap!r}, extra={_mask(self.extra)!r}, "
                f"device_credential={self.device_credential!r})")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to reach the pipeline."""

    data_dir: Path
    tenant: str = DEFAULT_TENANT
    kafka: KafkaSettings | None = None  # None: the running embedded stack
    clickhouse_dsn: str | None = None  # None: the running embedded stack

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def config_path(config: str | Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read, and whether it was asked for explicitly."""
    explicit = config or environ.get(ENV_CONFIG)
    return Path(explicit or default_config_path()), bool(explicit)


def read_config(config: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config file's content (empty when the default file does not exist)."""
    env = os.environ if environ is None else environ
    return _read_config(*config_path(config, env))


def collector_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``DESKPULSE_COLLECTOR_*`` variables as ``[collector]`` keys."""
    env = os.environ if environ is None else environ
    return {key[len(ENV_COLLECTOR_PREFIX):].lower(): value for key, value in env.items()
            if key.startswith(ENV_COLLECTOR_PREFIX)}


def _read_config(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc


def kafka_extra_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``DESKPULSE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512`` -> ``{"sasl.mechanism": ...}``."""
    return {
        key[len(ENV_KAFKA_PREFIX):].lower().replace("_", "."): value
        for key, value in environ.items()
        if key.startswith(ENV_KAFKA_PREFIX)
    }


def device_secret_source(file: str | Path | None = None, environ: Mapping[str, str] | None = None
                         ) -> tuple[Path | None, str | None]:
    """Where the device secret comes from: a file (flag, then ``DESKPULSE_DEVICE_SECRET_FILE``)
    or the value of ``DESKPULSE_DEVICE_SECRET``; ``(None, None)`` when neither is set."""
    env = os.environ if environ is None else environ
    path = file or env.get(ENV_DEVICE_SECRET_FILE)
    if path:
        return Path(path).expanduser(), None
    return None, env.get(ENV_DEVICE_SECRET) or None


def load_settings(
    *,
    data_dir: str | Path | None = None,
    bootstrap: str | None = None,
    clickhouse: str | None = None,
    tenant: str | None = None,
    config: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: flag > environment > config file > embedded defaults."""
    env = os.environ if environ is None else environ
    file_cfg = _read_config(*config_path(config, env))
    kafka_cfg = file_cfg.get("kafka", {})
    ch_cfg = file_cfg.get("clickhouse", {})

    resolved_bootstrap = bootstrap or env.get(ENV_BOOTSTRAP) or kafka_cfg.get("bootstrap")
    extra = {str(k): str(v) for k, v in kafka_cfg.get("extra", {}).items()}
    extra.update(kafka_extra_from_env(env))
    credential = env.get(ENV_DEVICE_CREDENTIAL) or kafka_cfg.get("device_credential")
    kafka = (
        KafkaSettings(bootstrap=resolved_bootstrap, extra=MappingProxyType(extra),
                      device_credential=Path(str(credential)).expanduser() if credential
                      else None)
        if resolved_bootstrap
        else None
    )
    resolved_tenant = tenant or env.get(ENV_TENANT) or file_cfg.get("tenant") or DEFAULT_TENANT
    resolved_dir = (data_dir or env.get(ENV_DATA_DIR) or file_cfg.get("data_dir")
                    or default_data_dir())
    return Settings(
        data_dir=Path(resolved_dir).expanduser(),
        tenant=str(resolved_tenant),
        kafka=kafka,
        clickhouse_dsn=clickhouse or env.get(ENV_CLICKHOUSE) or ch_cfg.get("dsn"),
    )

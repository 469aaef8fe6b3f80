"""Typed, frozen settings; the environment and the config file are read here only.

Resolution order for every connection setting: command-line flag > environment
variable > config file > the running embedded stack (found through the data dir).

Every value is checked where it enters: the config file's shape and types when it
is read (unknown keys are named in a warning), the tenant against the contract
(1-64 of ``A-Za-z0-9._-``, it is the first half of every message key
``<tenant>/<user>``), the time zone (an IANA name, ``timezone`` / ``DESKPULSE_TIMEZONE``:
the tenant's, for every time of day in reports and boards) and the bootstrap list's
syntax, whichever source they came from. A mistake is a :class:`ConfigError` that
names the value and its source.
An empty environment variable counts as unset.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from deskpulse.core.errors import ConfigError
from deskpulse.core.output import printable
from schemas.activity import TENANT_PATTERN

logger = logging.getLogger(__name__)

# Every environment variable deskpulse reads, in one place.
ENV_DATA_DIR = "DESKPULSE_DATA_DIR"
ENV_CONFIG = "DESKPULSE_CONFIG"
ENV_BOOTSTRAP = "DESKPULSE_BOOTSTRAP"
ENV_CLICKHOUSE = "DESKPULSE_CLICKHOUSE"
ENV_TENANT = "DESKPULSE_TENANT"
#: the tenant's time zone (IANA name): every time of day in reports and boards
ENV_TIMEZONE = "DESKPULSE_TIMEZONE"
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
DEFAULT_TIMEZONE = "UTC"
APP_NAME = "deskpulse"

_SECRET_WORDS = ("password", "secret", "token", "key.pem", "private")


#: the config file's keys: top level, then per section (``[collector]`` is checked by
#: ``collector.config``)
CONFIG_KEYS: Mapping[str, type] = MappingProxyType({
    "tenant": str, "data_dir": str, "kafka": dict, "clickhouse": dict, "collector": dict,
    "timezone": str})
SECTION_KEYS: Mapping[str, Mapping[str, type]] = MappingProxyType({
    "kafka": MappingProxyType({"bootstrap": str, "extra": dict, "device_credential": str}),
    "clickhouse": MappingProxyType({"dsn": str}),
})
_TYPE_NAMES = {str: "a string", dict: "a table", int: "an integer"}

_TENANT = re.compile(TENANT_PATTERN)
#: one bootstrap server: optional ``proto://``, a host name, IPv4 or [IPv6], optional port
_BROKER = re.compile(r"(?:[A-Za-z][A-Za-z0-9_+.-]*://)?"
                     r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252}))"
                     r"(?::(\d{1,5}))?")


def check_tenant(value: str, source: str = "--tenant") -> str:
    """``value`` if it is a tenant name of the contract, else a :class:`ConfigError`."""
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise ConfigError(f"tenant {value!r} ({source}) is not a tenant name",
                          hint="1-64 characters of A-Z a-z 0-9 . _ -")
    return value


#: an IANA zone name as ClickHouse and Grafana take it (it is quoted into their SQL)
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")


def check_timezone(value: str, source: str = "--timezone") -> str:
    """``value`` if it is an IANA time zone this machine knows (``Europe/Berlin``, ``UTC``),
    else a :class:`ConfigError`."""
    import zoneinfo
    try:
        known = isinstance(value, str) and bool(_ZONE.fullmatch(value)) and \
            zoneinfo.ZoneInfo(value) is not None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        raise ConfigError(f"time zone {value!r} ({source}) is not a known IANA time zone",
                          hint="e.g. Europe/Berlin, America/New_York or UTC")
    return value


def check_bootstrap(value: str, source: str = "--bootstrap") -> str:
    """``value`` if it is a comma-separated list of ``host[:port]``, else a :class:`ConfigError`."""
    entries = value.split(",") if isinstance(value, str) else [None]
    for entry in entries:
        m = _BROKER.fullmatch(entry.strip()) if entry is not None else None
        if m is None or (m.group(1) is not None and not 1 <= int(m.group(1)) <= 65535):
            raise ConfigError(f"Kafka bootstrap {value!r} ({source}) is not a list of "
                              "host:port", hint="e.g. kafka-1.example.com:9093,"
                              "kafka-2.example.com:9093")
    return value


def _mask(extra: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if any(w in k.lower() for w in _SECRET_WORDS) else v)
            for k, v in extra.items()}


#: every producer of the pipeline: acknowledged by all in-sync replicas, idempotent
RELIABLE_PRODUCER: Mapping[str, Any] = MappingProxyType({"acks": "all",
                                                         "enable.idempotence": True})


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

    def reliable_producer(self, **tuning: Any) -> dict[str, Any]:
        """A producer that loses and repeats nothing on retry (:data:`RELIABLE_PRODUCER`),
        ``tuning`` (batching, compression) after it."""
        return self.librdkafka(**{**RELIABLE_PRODUCER, **tuning})

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
    #: the tenant's time zone: hours of the day and times in reports and boards
    timezone: str = DEFAULT_TIMEZONE

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


_warned: set[tuple[str, str]] = set()


def _read_config(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        with path.open("rb") as fh:
            content = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    check_config(content, str(path))
    return content


def check_config(content: Mapping[str, Any], where: str) -> None:
    """The file's shape: known keys have their type (a :class:`ConfigError` names the
    first that does not), unknown keys are named in a warning (once per process)."""
    _check_keys(content, CONFIG_KEYS, "", where)
    for section, keys in SECTION_KEYS.items():
        _check_keys(content.get(section, {}), keys, f"[{section}] ", where)
    for key, value in content.get("kafka", {}).get("extra", {}).items():
        if isinstance(value, dict | list) or (isinstance(value, float) and
                                              not math.isfinite(value)):
            raise ConfigError(f"config file {where}: [kafka.extra] {key!r} must be a string, "
                              f"number or boolean, not {value!r}")


def _check_keys(table: Mapping[str, Any], known: Mapping[str, type], prefix: str,
                where: str) -> None:
    for key, value in table.items():
        kind = known.get(key)
        if kind is None:
            if (where, prefix + key) not in _warned:
                _warned.add((where, prefix + key))
                logger.warning("config file %s: unknown key %s%s is ignored (known: %s)",
                               printable(where), prefix, printable(key), ", ".join(known))
        elif not isinstance(value, kind):
            raise ConfigError(f"config file {where}: {prefix}{key} must be "
                              f"{_TYPE_NAMES[kind]}, not {value!r}")


def _kafka_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    timezone: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: flag > environment > config file > embedded defaults.

    A flag given as ``None`` is unset; an empty environment variable is unset."""
    env = os.environ if environ is None else environ
    path, explicit = config_path(config, env)
    file_cfg = _read_config(path, explicit)
    kafka_cfg = file_cfg.get("kafka", {})
    ch_cfg = file_cfg.get("clickhouse", {})

    def pick(flag: str, value: Any, env_name: str, key: str, table: Mapping[str, Any],
             section: str = "") -> tuple[Any, str]:
        for found, source in ((value, flag), (env.get(env_name) or None, env_name),
                              (table.get(key), f"{section}{key} in {path}")):
            if found is not None:
                return found, source
        return None, ""

    resolved_bootstrap, source = pick("--bootstrap", bootstrap, ENV_BOOTSTRAP, "bootstrap",
                                      kafka_cfg, "[kafka] ")
    extra = {str(k): _kafka_value(v) for k, v in kafka_cfg.get("extra", {}).items()}
    extra.update(kafka_extra_from_env(env))
    credential = env.get(ENV_DEVICE_CREDENTIAL) or kafka_cfg.get("device_credential")
    kafka = (
        KafkaSettings(bootstrap=check_bootstrap(resolved_bootstrap, source),
                      extra=MappingProxyType(extra),
                      device_credential=Path(str(credential)).expanduser() if credential
                      else None)
        if resolved_bootstrap is not None
        else None
    )
    resolved_tenant, source = pick("--tenant", tenant, ENV_TENANT, "tenant", file_cfg)
    resolved_dir = (data_dir or env.get(ENV_DATA_DIR) or file_cfg.get("data_dir")
                    or default_data_dir())
    dsn, source_dsn = pick("--clickhouse", clickhouse, ENV_CLICKHOUSE, "dsn", ch_cfg,
                           "[clickhouse] ")
    if dsn is not None and not dsn.strip():
        raise ConfigError(f"the ClickHouse DSN from {source_dsn} is empty",
                          hint="http(s)://host:8443 or chdb:///path")
    resolved_zone, source_zone = pick("--timezone", timezone, ENV_TIMEZONE, "timezone", file_cfg)
    return Settings(
        timezone=DEFAULT_TIMEZONE if resolved_zone is None else check_timezone(resolved_zone,
                                                                               source_zone),
        data_dir=Path(resolved_dir).expanduser(),
        tenant=DEFAULT_TENANT if resolved_tenant is None else check_tenant(resolved_tenant,
                                                                           source),
        kafka=kafka,
        clickhouse_dsn=dsn,
    )

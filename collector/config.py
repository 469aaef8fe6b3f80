"""Typed, frozen settings of the collector (``[collector]`` in config.toml, env overrides)."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

from collector.privacy import LocalHours, PrivacyPolicy, compile_patterns
from collector.spans import SpanPolicy
from deskpulse.errors import ConfigError
from deskpulse.settings import APP_NAME, DEFAULT_TENANT


@dataclass(frozen=True)
class CollectorSettings:
    tenant: str = DEFAULT_TENANT
    user: str = ""
    host: str = ""
    poll_interval: float = 1.0
    idle_threshold: float = 180.0
    pulsetime: float = 2.0
    max_span: float = 60.0
    spool_path: Path | None = None
    spool_max_events: int = 500_000
    capture_titles: bool = True
    redact: tuple[str, ...] = ()
    url_mode: str = "path"
    hours: str = ""
    timezone: str = "UTC"
    control_socket: Path | None = None
    log_file: Path | None = None
    #: loopback port for the browser extension's reports (0: no browser URL capture)
    browser_port: int = 0
    #: the per-install token the extension is configured with
    browser_token: str = ""
    #: extension origins allowed (empty: any chrome-extension:// or moz-extension://)
    browser_origins: tuple[str, ...] = ()
    #: Prometheus text file rewritten every minute (node_exporter's textfile collector)
    metrics_file: Path | None = None
    #: window probe: auto (from the session), x11, wlroots, gnome or kde
    probe: str = "auto"

    def privacy(self) -> PrivacyPolicy:
        if self.url_mode not in ("full", "path", "host", "none"):
            raise ConfigError(f"url_mode must be full, path, host or none, not {self.url_mode!r}")
        return PrivacyPolicy(
            capture_titles=self.capture_titles,
            redact_patterns=compile_patterns(self.redact),
            url_mode=self.url_mode,  # type: ignore[arg-type]
            hours=LocalHours.parse(self.hours, self.timezone) if self.hours else None,
        )

    def span_policy(self) -> SpanPolicy:
        return SpanPolicy(pulsetime_ms=int(self.pulsetime * 1000),
                          max_span_ms=int(self.max_span * 1000))


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in ("float", float):
            return float(value)
        if kind in ("int", int):
            return int(value)
        if kind in ("bool", bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if "Path" in str(kind):
            return Path(str(value)).expanduser() if value not in (None, "") else None
        if "tuple" in str(kind):
            return tuple(value) if isinstance(value, list | tuple) else \
                tuple(p for p in str(value).split("\n") if p)
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"collector setting {name}={value!r} is not a valid {kind}") from exc


def collector_settings(file_section: Mapping[str, Any], env: Mapping[str, str], *,
                       tenant: str, data_dir: Path) -> CollectorSettings:
    """Merge the ``[collector]`` section, then ``DESKPULSE_COLLECTOR_*`` variables."""
    known = {f.name: f.type for f in fields(CollectorSettings)}
    merged: dict[str, Any] = {"tenant": tenant}
    for source in (file_section, env):
        for key, value in source.items():
            if key not in known:
                raise ConfigError(f"unknown collector setting {key!r}",
                                  hint=f"known: {', '.join(sorted(known))}")
            merged[key] = _coerce(key, known[key], value)
    merged.setdefault("user", getpass.getuser())
    merged.setdefault("host", socket.gethostname())
    runtime = Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    merged.setdefault("spool_path", data_dir / "collector" / "spool.db")
    merged.setdefault("control_socket", runtime / "collector.sock")
    merged.setdefault("log_file", Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
                      / "collector.log")
    settings = CollectorSettings(**merged)
    if settings.poll_interval <= 0 or settings.pulsetime < settings.poll_interval:
        raise ConfigError("poll_interval must be > 0 and pulsetime >= poll_interval")
    settings.privacy()  # validate patterns, hours and zone now, not at the first sample
    if settings.browser_port and len(settings.browser_token) < 16:
        raise ConfigError("browser_port is set but browser_token is missing or shorter than "
                          "16 characters", hint="generate one: python -c 'import secrets; "
                          "print(secrets.token_urlsafe(24))'")
    if not 0 <= settings.browser_port <= 65535:
        raise ConfigError(f"browser_port {settings.browser_port} is not a port number")
    return settings

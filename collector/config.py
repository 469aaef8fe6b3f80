"""Typed, frozen settings of the collector (``[collector]`` in config.toml, env overrides).

Every value is checked against its field's type (TOML values must already have it;
``DESKPULSE_COLLECTOR_*`` strings are parsed) and numbers against :data:`RANGES`
(finite, no booleans), so a mistake is a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import getpass
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

from collector.privacy import LocalHours, PrivacyPolicy, compile_patterns
from collector.spans import SpanPolicy
from deskpulse.core.errors import ConfigError
from deskpulse.core.settings import APP_NAME, DEFAULT_TENANT, check_tenant


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
    #: a file holding the token instead (the packages make one per install:
    #: /etc/deskpulse/browser-token); read only when browser_port is set and browser_token is not
    browser_token_file: Path | None = None
    #: extension origins allowed (empty: any chrome-extension:// or moz-extension://)
    browser_origins: tuple[str, ...] = ()
    #: Prometheus text file rewritten every minute (node_exporter's textfile collector)
    metrics_file: Path | None = None
    #: window probe: auto (from the session), x11, wlroots, gnome or kde
    probe: str = "auto"
    #: the person's "my data" page on loopback (collector.mydata); off only where nobody
    #: sits at the computer
    my_data: bool = True
    #: its port on 127.0.0.1 (0: any free port; ``deskpulse collector open`` finds it)
    my_data_port: int = 0
    #: what was sent is kept this many local days for the page (today only: 1)
    sent_log_days: int = 1
    #: the tray indicator (StatusNotifierItem) where the desktop has a host; off for kiosks
    tray: bool = True

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


#: allowed ranges of the numeric settings (inclusive); a span is at most an hour (contract)
RANGES: dict[str, tuple[float, float]] = {
    "poll_interval": (0.01, 3600.0),
    "idle_threshold": (1.0, 86_400.0),
    "pulsetime": (0.01, 86_400.0),
    "max_span": (1.0, 3600.0),
    "spool_max_events": (1, 100_000_000),
    "browser_port": (0, 65535),
    "my_data_port": (0, 65535),
    "sent_log_days": (1, 31),
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """``value`` (from TOML, or a string from the environment) as the field's type."""
    kind = str(getattr(kind, "__name__", kind))
    from_env = isinstance(value, str)
    if kind in ("float", "int"):
        number: Any = value
        if from_env:
            try:
                number = float(value) if kind == "float" else int(value.strip())
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, int | float) or \
                not math.isfinite(number) or (kind == "int" and not isinstance(number, int)):
            raise ConfigError(f"collector setting {name} must be "
                              f"{'a number' if kind == 'float' else 'an integer'}, "
                              f"not {value!r}")
        low, high = RANGES.get(name, (-math.inf, math.inf))
        if not low <= number <= high:
            raise ConfigError(f"collector setting {name} = {value!r} is out of range",
                              hint=f"from {low:g} to {high:g}")
        return float(number) if kind == "float" else number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if from_env and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"collector setting {name} must be true or false, not {value!r}")
    if "tuple" in kind:
        items = value.split("\n") if from_env else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"collector setting {name} must be a list of strings, "
                              f"not {value!r}")
        return tuple(i for i in items if i) if from_env else tuple(items)
    if not from_env:
        raise ConfigError(f"collector setting {name} must be a string, not {value!r}")
    if "Path" in kind:
        return Path(value).expanduser() if value else None
    return value


def _read_token(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read collector setting browser_token_file {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from exc


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
    if merged.get("browser_port") and not merged.get("browser_token") and \
            merged.get("browser_token_file") is not None:
        merged["browser_token"] = _read_token(merged["browser_token_file"])
    settings = CollectorSettings(**merged)
    check_tenant(settings.tenant, "[collector] tenant")
    for name in ("user", "host"):
        if not 1 <= len(getattr(settings, name).strip()) <= 255:
            raise ConfigError(f"collector setting {name} = {getattr(settings, name)!r} must "
                              "have 1-255 characters")
    if settings.pulsetime < settings.poll_interval:
        raise ConfigError("pulsetime must be >= poll_interval")
    settings.privacy()  # validate patterns, hours and zone now, not at the first sample
    if settings.browser_port and len(settings.browser_token) < 16:
        raise ConfigError("browser_port is set but browser_token is missing or shorter than "
                          "16 characters", hint="generate one: python -c 'import secrets; "
                          "print(secrets.token_urlsafe(24))'")
    return settings

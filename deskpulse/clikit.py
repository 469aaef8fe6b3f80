"""What every ``deskpulse`` command group shares: errors as messages, connection options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from deskpulse.errors import DeskpulseError
from deskpulse.settings import (
    ENV_BOOTSTRAP,
    ENV_CLICKHOUSE,
    ENV_CONFIG,
    ENV_DATA_DIR,
    ENV_TENANT,
    KafkaSettings,
    Settings,
    load_settings,
)


class CommandError(click.ClickException):
    """A :class:`DeskpulseError` shown as ``Type: message`` with its exit code."""

    def __init__(self, exc: DeskpulseError) -> None:
        super().__init__(str(exc))
        self.exit_code = exc.exit_code
        self.kind = type(exc).__name__

    def show(self, file: Any = None) -> None:
        click.echo(f"{self.kind}: {self.message}", err=True)


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeskpulseError as exc:
            raise CommandError(exc) from exc


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Connection options every command accepts (flag > environment > config file)."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                     envvar=ENV_DATA_DIR, help="Data dir of the embedded stack."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     envvar=ENV_CONFIG, help="Config file (TOML)."),
        click.option("--bootstrap", envvar=ENV_BOOTSTRAP, help="Kafka bootstrap servers."),
        click.option("--clickhouse", envvar=ENV_CLICKHOUSE,
                     help="ClickHouse DSN (http(s)://... or chdb:///path)."),
        click.option("--tenant", envvar=ENV_TENANT, help="Tenant (default: 'default')."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(data_dir: Path | None, config_file: Path | None, bootstrap: str | None,
              clickhouse: str | None, tenant: str | None) -> Settings:
    return load_settings(data_dir=data_dir, config=config_file, bootstrap=bootstrap,
                         clickhouse=clickhouse, tenant=tenant)


def _kafka(settings: Settings) -> KafkaSettings:
    if settings.kafka is not None:
        return settings.kafka
    from deskpulse.stack import StackInfo
    return StackInfo.load(settings.data_dir).kafka()

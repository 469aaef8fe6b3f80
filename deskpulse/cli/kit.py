"""What every ``deskpulse`` command group shares: errors as messages, connection options.

Every error a user can cause ends as one line ``Type: message`` on stderr with
the error's exit code: :class:`~deskpulse.core.errors.DeskpulseError` and click's usage
errors alike (shown as :class:`~deskpulse.core.errors.UsageError`). Messages are made
printable before they reach the terminal, as all output is
(:func:`deskpulse.core.output.printable`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from deskpulse.core.errors import ConfigError, DeskpulseError, UsageError
from deskpulse.core.output import printable
from deskpulse.core.settings import (
    ENV_BOOTSTRAP,
    ENV_CLICKHOUSE,
    ENV_CONFIG,
    ENV_DATA_DIR,
    ENV_TENANT,
    ENV_TIMEZONE,
    KafkaSettings,
    Settings,
    check_bootstrap,
    check_tenant,
    check_timezone,
    load_settings,
)
from deskpulse.core.stackfile import kafka_or_stack

logger = logging.getLogger(__name__)

#: how long a policy command waits for the broker before it gives up
BROKER_WAIT_S = 10.0


class CommandError(click.ClickException):
    """A :class:`DeskpulseError` shown as ``Type: message`` with its exit code."""

    def __init__(self, exc: DeskpulseError) -> None:
        super().__init__(str(exc))
        self.exit_code = exc.exit_code
        self.kind = type(exc).__name__

    def show(self, file: Any = None) -> None:
        click.echo(f"{self.kind}: {printable(self.message, keep_lines=True)}", err=True)


def _usage(exc: click.UsageError) -> CommandError:
    where = f" (see '{exc.ctx.command_path} -h')" if exc.ctx is not None else ""
    return CommandError(UsageError(exc.format_message() + where))


class Group(click.Group):
    """A command group whose errors are one line each (see the module doc)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeskpulseError as exc:
            raise CommandError(exc) from exc
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _usage(exc) from exc

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _usage(exc) from exc


class Checked(click.ParamType):
    """A value checked by one of :mod:`deskpulse.core.settings`' ``check_*`` functions, the same
    check the settings apply to the config file; the message names where the value came
    from (the flag or its environment variable)."""

    def __init__(self, name: str, check: Callable[[str, str], str]) -> None:
        self.name = name
        self._check = check

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        source = param.opts[0] if param is not None else self.name
        if ctx is not None and param is not None and param.name is not None and \
                ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT:
            source = str(param.envvar)
        try:
            return self._check(value, source)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


TENANT = Checked("tenant", check_tenant)
BOOTSTRAP = Checked("host:port,...", check_bootstrap)
TIMEZONE = Checked("zone", check_timezone)


def timezone_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--timezone``: the tenant's time zone for every time of day shown (flag >
    ``DESKPULSE_TIMEZONE`` > ``timezone`` in the config file > UTC)."""
    return click.option("--timezone", type=TIMEZONE, envvar=ENV_TIMEZONE,
                        help="The tenant's time zone, e.g. Europe/Berlin (default: the "
                             "config file's timezone, else UTC).")(func)


def zone(timezone: str | None) -> str:
    """The time zone to show times in: ``timezone`` if given, else the settings'."""
    return timezone or load_settings().timezone


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Connection options every command accepts (flag > environment > config file)."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                     envvar=ENV_DATA_DIR, help="Data dir of the embedded stack."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     envvar=ENV_CONFIG, help="Config file (TOML)."),
        click.option("--bootstrap", type=BOOTSTRAP, envvar=ENV_BOOTSTRAP,
                     help="Kafka bootstrap servers."),
        click.option("--clickhouse", envvar=ENV_CLICKHOUSE,
                     help="ClickHouse DSN (http(s)://... or chdb:///path)."),
        click.option("--tenant", type=TENANT, envvar=ENV_TENANT,
                     help="Tenant (default: 'default')."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(data_dir: Path | None, config_file: Path | None, bootstrap: str | None,
              clickhouse: str | None, tenant: str | None) -> Settings:
    return load_settings(data_dir=data_dir, config=config_file, bootstrap=bootstrap,
                         clickhouse=clickhouse, tenant=tenant)


def _kafka(settings: Settings) -> KafkaSettings:
    return kafka_or_stack(settings)


def _broker(settings: Settings, wait: float = BROKER_WAIT_S) -> KafkaSettings:
    """:func:`_kafka`, once the broker has answered (a :class:`BrokerUnavailable` naming
    the address after at most ``wait`` seconds, sooner when every broker refused)."""
    from deskpulse.ops.broker import probe_broker
    kafka = _kafka(settings)
    probe_broker(kafka, wait)
    return kafka


def usable_dir(path: Path, what: str = "data dir", mode: int = 0o700) -> Path:
    """``path`` as a directory this process can write (created if missing, with ``mode``),
    or a :class:`ConfigError` that says why not."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".deskpulse-write-test-")
        os.close(fd)
        os.unlink(probe)
    except FileExistsError as exc:
        raise ConfigError(f"{what} {path} is not a directory") from exc
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be used: {exc.strerror or exc}") from exc
    return path


def write_file(path: Path, text: str) -> None:
    """Write an output file the user named; a :class:`ConfigError` when that is impossible."""
    try:
        path.write_text(text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    """A date option's callback: ``YYYY-MM-DD``, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-20") from exc

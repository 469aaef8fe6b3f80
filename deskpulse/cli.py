"""The ``deskpulse`` command."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from deskpulse import __version__
from deskpulse.errors import DeskpulseError, StackError
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

logger = logging.getLogger(__name__)


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
    return KafkaSettings(bootstrap=StackInfo.load(settings.data_dir).broker)


def _log_level(verbose: int) -> None:
    from deskpulse.logs import configure_process_logging
    configure_process_logging("DEBUG" if verbose > 1 else "INFO" if verbose else "WARNING")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deskpulse")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """deskpulse: privacy-first workplace telemetry (collector -> Kafka -> Faust -> ClickHouse)."""
    _log_level(verbose)


class _Stop:
    """Turns SIGTERM/SIGINT into a flag the foreground loop checks."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@cli.command()
@_common
@click.option("--kafka-port", type=click.IntRange(0, 65535), default=9092, show_default=True,
              help="Broker port on 127.0.0.1 (0 picks a free one).")
@click.option("--partitions", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Partitions of the data topics.")
def up(kafka_port: int, partitions: int, **common: Any) -> None:
    """Run the embedded stack (broker, stream worker, sink, chDB) in the foreground."""
    from deskpulse.stack import EmbeddedStack
    settings = _settings(**common)
    stop = _Stop()
    stack = EmbeddedStack(settings.data_dir, kafka_port=kafka_port, partitions=partitions,
                          progress=lambda m: click.echo(f"  {m}"))
    info = stack.start()
    try:
        click.echo(f"deskpulse ready: broker {info.broker}, store {info.store_url}, "
                   f"data dir {info.data_dir} (Ctrl-C to stop)", )
        while not stop.requested:
            dead = stack.dead_child()
            if dead is not None:
                raise StackError(f"{dead.name} exited unexpectedly with code "
                                 f"{dead.proc.returncode}; last lines of {dead.log_path}:\n"
                                 f"{dead.log_tail()}")
            time.sleep(0.3)
    finally:
        click.echo("stopping ...")
        stack.stop()
        click.echo("stopped")


@cli.command()
@_common
def status(**common: Any) -> None:
    """Health of the embedded stack; exit code 0 only when every part is ready."""
    from deskpulse.stack import StackInfo, stack_health
    info = StackInfo.load(_settings(**common).data_dir)
    parts = stack_health(info)
    for part in parts:
        click.echo(f"{part.name:<8} {'ready' if part.ready else 'NOT READY':<10} {part.detail}")
    if not all(p.ready for p in parts):
        sys.exit(1)


@cli.command()
@_common
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
def query(sql: str, fmt: str, **common: Any) -> None:
    """Run SQL against ClickHouse (or the running embedded stack's store)."""
    from deskpulse.output import render
    from deskpulse.store import open_store
    columns, rows = open_store(_settings(**common)).query(sql)
    click.echo(render(columns, rows, fmt), nl=False)


@cli.command()
@_common
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
def report(days: int, **common: Any) -> None:
    """The managers' summary in the terminal."""
    from deskpulse.report import collect, render_text
    from deskpulse.store import open_store
    settings = _settings(**common)
    click.echo(render_text(collect(open_store(settings), settings.tenant, days)))


def _parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-20") from exc


def _run_simulation(kafka: KafkaSettings, tenant: str, collectors: int, day: dt.date | None,
                    seed: int) -> Any:
    from collector.simulate import simulate

    def progress(done: int, total: int, events: int) -> None:
        click.echo(f"\r  simulated {done}/{total} collectors, {events} events published",
                   nl=done == total)

    return simulate(kafka, collectors=collectors, tenant=tenant, day=day, seed=seed,
                    progress=progress)


@cli.command()
@_common
@click.option("--collectors", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--day", callback=_parse_day, help="Simulated day (default: last weekday).")
@click.option("--seed", type=int, default=7, show_default=True)
def simulate(collectors: int, day: dt.date | None, seed: int, **common: Any) -> None:
    """A synthetic fleet through the collector's span builder and publisher."""
    settings = _settings(**common)
    result = _run_simulation(_kafka(settings), settings.tenant, collectors, day, seed)
    click.echo(f"published {result.events} events ({result.acked} acknowledged) for "
               f"{result.collectors} collectors on {result.day}")


def wait_until_stored(store: Any, expected: int, timeout: float,
                      echo: Callable[[str], None], stack: Any = None) -> int:
    """Poll until spans + dead letters reach ``expected``; returns the count seen."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        dead = stack.dead_child() if stack is not None else None
        if dead is not None:
            raise StackError(f"{dead.name} exited with code {dead.proc.returncode}; last lines "
                             f"of {dead.log_path}:\n{dead.log_tail()}")
        _, rows = store.query("SELECT (SELECT count() FROM deskpulse.activity_spans) + "
                              "(SELECT count() FROM deskpulse.deadletter)")
        seen = int(rows[0][0])
        echo(f"\r  stored {seen}/{expected} events")
        if seen >= expected:
            echo("\n")
            return seen
        time.sleep(1.0)
    echo("\n")
    return seen


@cli.command()
@_common
@click.option("--collectors", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--kafka-port", type=click.IntRange(0, 65535), default=0,
              help="Broker port (default: a free one).")
@click.option("--keep", is_flag=True, help="Keep the demo's data dir.")
def demo(collectors: int, seed: int, kafka_port: int, keep: bool, **common: Any) -> None:
    """Embedded stack + simulated fleet + the managers' report; stops by itself."""
    from deskpulse.report import collect, render_text
    from deskpulse.stack import EmbeddedStack
    from deskpulse.store import StackStore
    settings = _settings(**common)
    given_dir = common.get("data_dir")
    tmp = None if given_dir else tempfile.TemporaryDirectory(prefix="deskpulse-demo-")
    data_dir = Path(given_dir) if given_dir else Path(tmp.name)  # type: ignore[union-attr]
    stop = _Stop()
    started = time.monotonic()
    click.echo(f"deskpulse demo: {collectors} simulated people over one working day")
    stack = EmbeddedStack(data_dir, kafka_port=kafka_port,
                          progress=lambda m: click.echo(f"  {m}"))
    try:
        info = stack.start()
        click.echo(f"  ready: broker {info.broker}, store {info.store_url}")
        result = _run_simulation(KafkaSettings(bootstrap=info.broker), settings.tenant,
                                 collectors, None, seed)
        store = StackStore(info)
        seen = wait_until_stored(store, result.events, timeout=180,
                                 echo=lambda s: click.echo(s, nl=False), stack=stack)
        if stop.requested:
            raise click.Abort()
        if seen < result.events:
            raise StackError(f"only {seen} of {result.events} events reached the store in time",
                             hint=f"see the logs in {data_dir / 'logs'}")
        click.echo("")
        click.echo(render_text(collect(store, settings.tenant, days=14)))
        click.echo(f"demo finished in {time.monotonic() - started:.0f}s")
        if keep or given_dir:
            click.echo(f"data kept in {data_dir}; run 'deskpulse up --data-dir {data_dir}' "
                       "to explore it again")
    finally:
        stack.stop()
        if tmp is not None and not keep:
            tmp.cleanup()


def parse_duration(text: str) -> float:
    """``"30m"``, ``"1h30m"``, ``"90s"`` -> seconds."""
    import re
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip().lower())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(text)
    h, mi, se = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mi * 60 + se)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a duration like 30m, 1h30m or 90s") from exc
    if seconds <= 0:
        raise click.BadParameter("the duration must be positive")
    return seconds


def _collector_settings(common: dict[str, Any]) -> tuple[Any, Settings]:
    from collector.config import collector_settings
    from deskpulse.settings import collector_env, read_config
    settings = _settings(**common)
    raw = read_config(common.get("config_file"))
    section = raw.get("collector", {})
    return collector_settings(section, collector_env(), tenant=settings.tenant,
                              data_dir=settings.data_dir), settings


@cli.command()
@_common
def collect(**common: Any) -> None:
    """Run the collector on this desktop, in the foreground, with a rotating log file."""
    import os

    from collector.probes import open_window_probe
    csettings, settings = _collector_settings(common)
    open_window_probe().close()  # first: no display / Wayland is the likeliest problem
    kafka = _kafka(settings)
    click.echo(f"collecting as {csettings.user}@{csettings.host} (tenant {csettings.tenant}); "
               f"broker {kafka.bootstrap}; log {csettings.log_file}; Ctrl-C to stop")
    # Hand over to the lean collector process (same settings, flags passed as environment).
    env = dict(os.environ)
    for name, value in ((ENV_DATA_DIR, settings.data_dir), (ENV_TENANT, settings.tenant),
                        (ENV_BOOTSTRAP, kafka.bootstrap), (ENV_CONFIG, common["config_file"])):
        if value is not None:
            env[name] = str(value)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "collector.main"], env)


@cli.group(cls=Group)
def collector() -> None:
    """Talk to the running collector: private mode and status."""


def _control(common: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    from collector.control import request
    csettings, _ = _collector_settings(common)
    return request(csettings.control_socket, body)


def _show_collector(state: dict[str, Any]) -> None:
    if state["paused"]:
        until = state.get("paused_until_ms")
        when = (dt.datetime.fromtimestamp(until / 1000, dt.UTC).strftime("%H:%M:%S UTC")
                if until else "you resume")
        click.echo(f"private mode: ON (nothing is recorded until {when})")
    else:
        click.echo("private mode: off (recording)")
    click.echo(f"spool: {state['spooled']} events waiting, {state['dropped']} dropped when full; "
               f"published {state['published']} since start")


@collector.command()
@_common
@click.option("--for", "for_", callback=_duration, help="How long, e.g. 30m (default: until "
              "'deskpulse collector resume').")
def pause(for_: float | None, **common: Any) -> None:
    """Private mode: record nothing until resumed (or for a while)."""
    _show_collector(_control(common, {"cmd": "pause", "for_s": for_}))


@collector.command()
@_common
def resume(**common: Any) -> None:
    """Leave private mode."""
    _show_collector(_control(common, {"cmd": "resume"}))


@collector.command(name="status")
@_common
def collector_status(**common: Any) -> None:
    """Is the collector recording, and how many events wait to be sent?"""
    _show_collector(_control(common, {"cmd": "status"}))


def main() -> None:
    cli(prog_name="deskpulse")


if __name__ == "__main__":
    main()

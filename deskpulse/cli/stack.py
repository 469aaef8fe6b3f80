"""``deskpulse up``, ``status``, ``simulate`` and ``demo``: the embedded stack and its demo."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from deskpulse.cli.kit import (
    _broker,
    _common,
    _settings,
    iso_date,
    timezone_option,
    usable_dir,
    write_file,
)
from deskpulse.core.errors import StackError
from deskpulse.core.procs import stop_on_signals
from deskpulse.core.settings import KafkaSettings


@click.command()
@_common
@click.option("--kafka-port", type=click.IntRange(0, 65535), default=9092, show_default=True,
              help="Broker port on 127.0.0.1 (0 picks a free one).")
@click.option("--partitions", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Partitions of the data topics.")
@click.option("--max-result-rows", type=click.IntRange(0), default=100_000, show_default=True,
              help="Rows a query through the stack may return (0: no bound).")
def up(kafka_port: int, partitions: int, max_result_rows: int, **common: Any) -> None:
    """Run the embedded stack (broker, stream worker, sink, chDB) in the foreground."""
    from deskpulse.ops.embedded import EmbeddedStack
    settings = _settings(**common)
    data_dir = usable_dir(settings.data_dir)  # a clear error for a read-only dir or a file
    stop = stop_on_signals()
    stack = EmbeddedStack(data_dir, kafka_port=kafka_port, partitions=partitions,
                          progress=lambda m: click.echo(f"  {m}"),
                          max_result_rows=max_result_rows)
    info = stack.start()
    try:
        click.echo(f"deskpulse ready: broker {info.broker}, store {info.store_url}, "
                   f"data dir {info.data_dir} (Ctrl-C to stop)", )
        while not stop.is_set():
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


@click.command()
@_common
def status(**common: Any) -> None:
    """Health of the embedded stack; exit code 0 only when every part is ready."""
    from deskpulse.core.stackfile import StackInfo
    from deskpulse.ops.health import stack_health
    info = StackInfo.load(_settings(**common).data_dir)
    parts = stack_health(info)
    for part in parts:
        click.echo(f"{part.name:<8} {'ready' if part.ready else 'NOT READY':<10} {part.detail}")
    if not all(p.ready for p in parts):
        sys.exit(1)


def _run_simulation(kafka: KafkaSettings, tenant: str, collectors: int, day: dt.date | None,
                    seed: int) -> Any:
    from collector.simulate import simulate

    def progress(done: int, total: int, events: int) -> None:
        click.echo(f"\r  simulated {done}/{total} collectors, {events} events published",
                   nl=done == total)

    return simulate(kafka, collectors=collectors, tenant=tenant, day=day, seed=seed,
                    progress=progress)


@click.command()
@_common
@click.option("--collectors", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--day", callback=iso_date, help="Simulated day (default: last weekday).")
@click.option("--seed", type=int, default=7, show_default=True)
def simulate(collectors: int, day: dt.date | None, seed: int, **common: Any) -> None:
    """A synthetic fleet through the collector's span builder and publisher."""
    settings = _settings(**common)
    result = _run_simulation(_broker(settings), settings.tenant, collectors, day, seed)
    click.echo(f"published {result.events} events ({result.acked} acknowledged) for "
               f"{result.collectors} collectors on {result.day}")


@click.command()
@_common
@click.option("--collectors", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--kafka-port", type=click.IntRange(0, 65535), default=0,
              help="Broker port (default: a free one).")
@click.option("--keep", is_flag=True, help="Keep the demo's data dir.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the HTML report there (default: report.html in a kept "
                   "data dir).")
@timezone_option
def demo(collectors: int, seed: int, kafka_port: int, keep: bool, html_file: Path | None,
         timezone: str | None, **common: Any) -> None:
    """Embedded stack + simulated fleet + the managers' report; stops by itself."""
    from deskpulse.ops.demo import wait_until_stored
    from deskpulse.ops.embedded import EmbeddedStack
    from deskpulse.ops.report import collect, render_html, render_text
    from deskpulse.ops.store import StackStore
    settings = _settings(**common).with_overrides(timezone=timezone)
    if html_file is not None:  # before the stack starts: a wrong path fails at once
        usable_dir(html_file.parent.resolve(), "report dir", 0o755)
    given_dir = common.get("data_dir")
    tmp = None if given_dir else tempfile.TemporaryDirectory(prefix="deskpulse-demo-")
    data_dir = usable_dir(Path(given_dir)) if given_dir else Path(tmp.name)  # type: ignore[union-attr]
    if html_file is None and (keep or given_dir):
        html_file = data_dir / "report.html"
    stop = stop_on_signals()
    started = time.monotonic()
    click.echo(f"deskpulse demo: {collectors} simulated people over one working day")
    stack = EmbeddedStack(data_dir, kafka_port=kafka_port,
                          progress=lambda m: click.echo(f"  {m}"))
    try:
        info = stack.start()
        click.echo(f"  ready: broker {info.broker}, store {info.store_url}")
        result = _run_simulation(info.kafka(), settings.tenant,
                                 collectors, None, seed)
        store = StackStore(info)
        seen = wait_until_stored(store, result.events, timeout=180,
                                 echo=lambda s: click.echo(s, nl=False), stack=stack)
        if stop.is_set():
            raise click.Abort()
        if seen < result.events:
            raise StackError(f"only {seen} of {result.events} events reached the store in time",
                             hint=f"see the logs in {data_dir / 'logs'}")
        click.echo("")
        data = collect(store, settings.tenant, days=14, timezone=settings.timezone)
        click.echo(render_text(data))
        if html_file is not None:
            write_file(html_file, render_html(data))
            click.echo(f"HTML report: {html_file.resolve()}")
        click.echo(f"demo finished in {time.monotonic() - started:.0f}s")
        if keep or given_dir:
            click.echo(f"data kept in {data_dir}; run 'deskpulse up --data-dir {data_dir}' "
                       "to explore it again")
    finally:
        stack.stop()
        if tmp is not None and not keep:
            tmp.cleanup()

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
from deskpulse.cli_categories import category, recategorize
from deskpulse.cli_devices import device
from deskpulse.cli_teams import team
from deskpulse.clikit import Group, _broker, _common, _kafka, _settings, usable_dir, write_file
from deskpulse.errors import ConfigError, StackError, StackNotRunning
from deskpulse.settings import (
    ENV_BOOTSTRAP,
    ENV_CONFIG,
    ENV_DATA_DIR,
    ENV_TENANT,
    KafkaSettings,
    Settings,
)

logger = logging.getLogger(__name__)


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


cli.add_command(category)
cli.add_command(recategorize)
cli.add_command(device)
cli.add_command(team)


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
@click.option("--max-result-rows", type=click.IntRange(0), default=100_000, show_default=True,
              help="Rows a query through the stack may return (0: no bound).")
def up(kafka_port: int, partitions: int, max_result_rows: int, **common: Any) -> None:
    """Run the embedded stack (broker, stream worker, sink, chDB) in the foreground."""
    from deskpulse.stack import EmbeddedStack
    settings = _settings(**common)
    data_dir = usable_dir(settings.data_dir)  # a clear error for a read-only dir or a file
    stop = _Stop()
    stack = EmbeddedStack(data_dir, kafka_port=kafka_port, partitions=partitions,
                          progress=lambda m: click.echo(f"  {m}"),
                          max_result_rows=max_result_rows)
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
@click.option("--user", required=True, help="The person's login.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget(user: str, yes: bool, **common: Any) -> None:
    """Erase a person's rows from every table (an audit entry records the request)."""
    from deskpulse.store import open_admin
    from sinks.erase import check_subject
    settings = _settings(**common)
    check_subject(settings.tenant, user)  # before asking: a blank login names nobody
    if not yes:
        click.confirm(f"Erase every row of {user!r} in tenant {settings.tenant!r}?", abort=True)
    removed = open_admin(settings).run("forget", {"tenant": settings.tenant,
                                                  "user": user})["removed"]
    for table, n in removed.items():
        click.echo(f"{table:20s} {n:>10,} rows removed")
    click.echo(f"{user!r} in tenant {settings.tenant!r}: erased ({sum(removed.values()):,} rows). "
               "Events still in Kafka topics expire with the topics' retention; to keep new "
               "data from arriving, add the person to the do-not-track list.")


@cli.group(cls=Group)
def extension() -> None:
    """The browser extension that reports the active tab's URL to the collector."""


@extension.command(name="build")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"),
              show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="The collector's browser_port (written into config.json).")
@click.option("--token", default="", help="The collector's browser_token.")
def extension_build(out: Path, port: int, token: str) -> None:
    """Write the unpacked extension and its zip (see collector/README.md for fleet installs)."""
    from collector.extension import build
    built = build(usable_dir(out, "output dir", 0o777), port, token)
    click.echo(f"unpacked: {built.unpacked}\nzip:      {built.zip} (version {built.version})")


@cli.group(cls=Group)
def grafana() -> None:
    """The managers' boards: export them as files, or push them to a Grafana."""


@grafana.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("deploy/grafana/dashboards"), show_default=True)
def export(out: Path) -> None:
    """Write the boards' dashboard JSON (for provisioning or import)."""
    from deskpulse.boards.dashboards import export as export_boards
    for path in export_boards(usable_dir(out, "output dir", 0o777)):
        click.echo(f"wrote {path}")


@grafana.command()
@click.option("--url", required=True, help="Grafana's URL, e.g. https://grafana.example.com.")
@click.option("--token", required=True, envvar="DESKPULSE_GRAFANA_TOKEN",
              help="A service account token (or DESKPULSE_GRAFANA_TOKEN).")
@click.option("--clickhouse-host", required=True, help="ClickHouse host as Grafana reaches it.")
@click.option("--clickhouse-port", type=click.IntRange(1, 65535), default=9440,
              show_default=True)
@click.option("--clickhouse-user", default="deskpulse_grafana", show_default=True,
              help="A read-only ClickHouse user (analyst role).")
@click.option("--clickhouse-password", envvar="DESKPULSE_GRAFANA_CLICKHOUSE_PASSWORD",
              default="", help="Or DESKPULSE_GRAFANA_CLICKHOUSE_PASSWORD.")
@click.option("--insecure", is_flag=True, help="ClickHouse without TLS.")
@click.option("--managers-team", help="Grafana team given View on the deskpulse folder.")
def deploy(url: str, token: str, clickhouse_host: str, clickhouse_port: int,
           clickhouse_user: str, clickhouse_password: str, insecure: bool,
           managers_team: str | None) -> None:
    """Create or update the folder, the datasource and the boards (idempotent)."""
    from deskpulse.boards.deploy import ClickHouseConnection
    from deskpulse.boards.deploy import deploy as push
    connection = ClickHouseConnection(host=clickhouse_host, port=clickhouse_port,
                                      secure=not insecure, username=clickhouse_user,
                                      password=clickhouse_password)
    changes = push(url, token, connection, managers_team)
    for item in changes.made:
        click.echo(f"updated   {item}")
    for item in changes.unchanged:
        click.echo(f"unchanged {item}")
    click.echo("Grafana is up to date" + ("" if changes.made else " (nothing changed)"))


@cli.group(cls=Group)
def db() -> None:
    """The ClickHouse schema: migrations, cluster rendering, access control, retention."""


@db.command()
@_common
def migrate(**common: Any) -> None:
    """Apply pending migrations (the embedded stack's sink applies them when it starts)."""
    from deskpulse.store import open_admin
    done = open_admin(_settings(**common)).run("migrate", {})
    for name in done["applied"]:
        click.echo(f"applied {name}")
    click.echo(f"schema up to date ({done['total']} migrations)")


def _write_or_echo(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text)
        click.echo(f"wrote {out}")


@db.command()
@click.option("--cluster", default="{cluster}", show_default=True,
              help="Cluster name (default: the server's {cluster} macro).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def render(cluster: str, out: Path | None) -> None:
    """The migrations for a cluster: ON CLUSTER, Replicated engines, Distributed tables."""
    from sinks.cluster import render as render_cluster
    from sinks.migrate import load_migrations
    try:
        text = render_cluster(load_migrations(), cluster)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cluster") from exc
    _write_or_echo(text, out)


@db.command()
@click.option("--cluster", help="Render with ON CLUSTER.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def access(cluster: str | None, out: Path | None) -> None:
    """Roles (analyst, manager, employee, sink) and row policies for a ClickHouse server."""
    from sinks.access import render as render_access
    _write_or_echo(render_access(cluster), out)


@db.command()
@_common
@click.option("--set", "assignments", multiple=True, metavar="NAME=DAYS",
              help="Change a table's retention, e.g. spans=90 (repeatable).")
def retention(assignments: tuple[str, ...], **common: Any) -> None:
    """Show (or change) how many days each table keeps."""
    from deskpulse.store import open_admin
    from sinks import retention as ttl
    changes = dict(ttl.parse_assignment(a) for a in assignments)  # all checked first
    kept = open_admin(_settings(**common)).run("retention", {"set": changes})["retention"]
    for name, days in kept.items():
        click.echo(f"{name:12s} {'forever' if days is None else f'{days} days'}")


@cli.command()
@_common
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page with charts instead.")
def report(days: int, html_file: Path | None, **common: Any) -> None:
    """The managers' summary (the team overview board's numbers)."""
    from deskpulse.report import collect, render_html, render_text
    from deskpulse.store import open_store
    settings = _settings(**common)
    if html_file is not None and not html_file.parent.is_dir():  # before the queries
        raise ConfigError(f"cannot write {html_file}: {html_file.parent} is not a directory")
    data = collect(open_store(settings), settings.tenant, days)
    if html_file is None:
        click.echo(render_text(data))
    else:
        write_file(html_file, render_html(data))
        click.echo(f"wrote {html_file} ({len(data.people)} people, last {days} days)")


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
    result = _run_simulation(_broker(settings), settings.tenant, collectors, day, seed)
    click.echo(f"published {result.events} events ({result.acked} acknowledged) for "
               f"{result.collectors} collectors on {result.day}")


STORED_EVENTS_SQL = """
SELECT (SELECT uniqExact(event_id) FROM deskpulse.spans_store WHERE end = start)
     + least((SELECT uniqExact(event_id) FROM deskpulse.spans_store WHERE end > start),
             (SELECT uniqExact(event_id) FROM deskpulse.minutes_store))
     + (SELECT count() FROM deskpulse.deadletter)"""


def wait_until_stored(store: Any, expected: int, timeout: float,
                      echo: Callable[[str], None], stack: Any = None) -> int:
    """Poll until ``expected`` events are stored (span and rollup) or dead-lettered."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        dead = stack.dead_child() if stack is not None else None
        if dead is not None:
            raise StackError(f"{dead.name} exited with code {dead.proc.returncode}; last lines "
                             f"of {dead.log_path}:\n{dead.log_tail()}")
        # spans and rollups arrive through different topics: an event with time counts once
        # both are in (a zero-length one has no rollup rows)
        _, rows = store.query(STORED_EVENTS_SQL)
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
    data_dir = usable_dir(Path(given_dir)) if given_dir else Path(tmp.name)  # type: ignore[union-attr]
    stop = _Stop()
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
    """``"30m"``, ``"1h30m"``, ``"90s"``, ``"2d"`` -> seconds."""
    import re
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip().lower())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(text)
    d, h, mi, se = (int(g or 0) for g in m.groups())  # ValueError past 4300 digits too
    return float(d * 86400 + h * 3600 + mi * 60 + se)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--for`` of ``collector pause``, bounded like the collector bounds it (one-line error)."""
    from collector.control import PAUSE_MAX_S, PAUSE_MIN_S
    from deskpulse.errors import ConfigError
    if value is None:
        return None
    shown = value if len(value) <= 40 else value[:37] + "..."
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"--for {shown!r} is not a duration like 30m, 1h30m, 90s or 2d"
                          ) from exc
    if not PAUSE_MIN_S <= seconds <= PAUSE_MAX_S:
        raise ConfigError(f"--for {shown!r}: a timed pause lasts from {PAUSE_MIN_S}s to "
                          f"{PAUSE_MAX_S // 86400}d; without --for it lasts until "
                          "'deskpulse collector resume'")
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

    from collector.probes.select import open_session
    csettings, settings = _collector_settings(common)
    # first: no display, a missing GNOME extension... are the likeliest problems
    open_session(dict(os.environ), csettings.probe, csettings.idle_threshold).close()
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
    if state.get("session"):
        from collector.probes.select import describe
        click.echo(f"session: {describe(state['session'])}"
                   + ("; away now (locked or asleep)" if state.get("away") else ""))


@collector.command()
@_common
@click.option("--for", "for_", callback=_duration, help="How long, 1s to 7d, e.g. 30m "
              "(default: until 'deskpulse collector resume').")
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
    """Is the collector recording, and how many events wait to be sent?

    With no collector running, says which probe this session would get, or why none
    works and the fix (then exits non-zero).
    """
    try:
        _show_collector(_control(common, {"cmd": "status"}))
    except StackNotRunning:
        import os

        from collector.probes.select import diagnose
        csettings, _ = _collector_settings(common)
        click.echo(f"here: {diagnose(dict(os.environ), csettings.probe)}", err=True)
        raise


def _subject(user: str | None, host: str | None) -> tuple[str, str]:
    if bool(user) == bool(host):
        raise click.UsageError("name exactly one subject: --user U or --host H")
    return ("user", user) if user else ("host", host)  # type: ignore[return-value]


@cli.group(cls=Group)
def dnt() -> None:
    """Do-not-track list: listed people or computers leave no data anywhere."""


def _dnt_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--host", help="A computer name.")(func)
    return click.option("--user", help="A person's login.")(func)


@dnt.command(name="add")
@_common
@_dnt_options
@click.option("--reason", default="", help="Why (kept with the entry).")
def dnt_add(user: str | None, host: str | None, reason: str, **common: Any) -> None:
    """Stop tracking a person or a computer (from now on, and for spooled late events)."""
    from schemas.topics import POLICY_DNT
    from streams.policy import DntEntry, dnt_key
    from streams.policy_io import publish_policy, read_policies
    kind, name = _subject(user, host)
    settings = _settings(**common)
    kafka = _broker(settings)
    key = dnt_key(settings.tenant, kind, name)
    current = read_policies(kafka).dnt.get(key) or DntEntry(settings.tenant, kind, name)
    entry = current.add(int(time.time() * 1000), reason)
    publish_policy(kafka, POLICY_DNT, key, entry.to_record())
    click.echo(f"do-not-track: {kind} {name!r} in tenant {settings.tenant!r} is listed")


@dnt.command(name="remove")
@_common
@_dnt_options
def dnt_remove(user: str | None, host: str | None, **common: Any) -> None:
    """Track again from now on; the listed period stays listed."""
    from schemas.topics import POLICY_DNT
    from streams.policy import dnt_key
    from streams.policy_io import publish_policy, read_policies
    kind, name = _subject(user, host)
    settings = _settings(**common)
    kafka = _broker(settings)
    key = dnt_key(settings.tenant, kind, name)
    current = read_policies(kafka).dnt.get(key)
    if current is None or not current.listed_at(int(time.time() * 1000)):
        raise click.UsageError(f"{kind} {name!r} is not on the do-not-track list of tenant "
                               f"{settings.tenant!r}")
    publish_policy(kafka, POLICY_DNT, key, current.remove(int(time.time() * 1000)).to_record())
    click.echo(f"do-not-track: {kind} {name!r} is tracked again from now on (events from the "
               "listed period stay dropped)")


@dnt.command(name="list")
@_common
def dnt_list(**common: Any) -> None:
    """Every subject that is or was listed, with its periods."""
    from streams.policy_io import read_policies
    settings = _settings(**common)
    now = int(time.time() * 1000)
    rows = []
    for entry in sorted(read_policies(_broker(settings)).dnt.values(), key=lambda e: e.key):
        if entry.tenant != settings.tenant:
            continue
        periods = ", ".join(f"{_fmt_ms(s)} - {'now' if e is None else _fmt_ms(e)}"
                            for s, e in entry.periods)
        rows.append([entry.kind, entry.name, "listed" if entry.listed_at(now) else "tracked",
                     periods, entry.reason])
    from deskpulse.output import table
    click.echo(table(rows, headers=["kind", "name", "now", "listed periods (UTC)", "reason"])
               if rows else f"no do-not-track entries in tenant {settings.tenant!r}")


def _fmt_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


@cli.group(cls=Group)
def schedule() -> None:
    """Working hours: only time inside them is counted and stored."""


def _schedule_subject(user: str | None, default: bool) -> str | None:
    if bool(user) == default:
        raise click.UsageError("name exactly one: --user U or --default")
    return user


@schedule.command(name="set")
@_common
@click.option("--user", help="The person this schedule is for.")
@click.option("--default", "default", is_flag=True, help="The tenant's default schedule.")
@click.option("--tz", required=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--hours", "hours", multiple=True, required=True,
              help='Weekly interval, e.g. "mon-fri 09:00-17:00" (repeatable).')
@click.option("--off", multiple=True, help="A day off, YYYY-MM-DD (repeatable).")
def schedule_set(user: str | None, default: bool, tz: str, hours: tuple[str, ...],
                 off: tuple[str, ...], **common: Any) -> None:
    """Set a person's working hours, or the tenant default."""
    from schemas.topics import POLICY_SCHEDULE
    from streams.policy import Schedule, schedule_key
    from streams.policy_io import publish_policy
    who = _schedule_subject(user, default)
    sched = Schedule.build(tz, hours, off)  # refuses bad input before anything is published
    settings = _settings(**common)
    publish_policy(_broker(settings), POLICY_SCHEDULE, schedule_key(settings.tenant, who),
                   sched.to_record())
    click.echo(f"schedule for {'the tenant default' if who is None else who!r} "
               f"({tz}): " + "; ".join(sched.describe()))


@schedule.command(name="clear")
@_common
@click.option("--user")
@click.option("--default", "default", is_flag=True)
def schedule_clear(user: str | None, default: bool, **common: Any) -> None:
    """Remove a schedule (the person falls back to the default; no default: always on)."""
    from schemas.topics import POLICY_SCHEDULE
    from streams.policy import schedule_key
    from streams.policy_io import publish_policy
    who = _schedule_subject(user, default)
    settings = _settings(**common)
    publish_policy(_broker(settings), POLICY_SCHEDULE, schedule_key(settings.tenant, who), None)
    click.echo(f"schedule for {'the tenant default' if who is None else who!r} cleared")


@schedule.command(name="show")
@_common
def schedule_show(**common: Any) -> None:
    """Every schedule of the tenant."""
    from deskpulse.output import printable
    from streams.policy_io import read_policies
    settings = _settings(**common)
    prefix = f"{settings.tenant}/"
    found = {k: v for k, v in read_policies(_broker(settings)).schedules.items()
             if k.startswith(prefix)}
    if not found:
        click.echo(f"no schedules in tenant {settings.tenant!r}: always on")
    for key in sorted(found):
        who = key[len(prefix):]
        sched = found[key]
        click.echo(printable(f"{'default' if who == 'default' else who.split(':', 1)[1]} "
                             f"({sched.tz}): " + "; ".join(sched.describe())))


def main() -> None:
    cli(prog_name="deskpulse")


if __name__ == "__main__":
    main()

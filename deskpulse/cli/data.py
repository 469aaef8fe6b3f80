"""``deskpulse query``, ``forget``, ``report`` and ``db ...``: the stored data and its schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from deskpulse.cli.kit import Group, _common, _settings, iso_date, timezone_option, write_file
from deskpulse.core.errors import ConfigError


@click.command()
@_common
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
def query(sql: str, fmt: str, **common: Any) -> None:
    """Run SQL against ClickHouse (or the running embedded stack's store).

    Control characters are shown escaped. In CSV a text that a spreadsheet would run as a
    formula (it starts with = + - @ or a tab) gets a single quote in front; JSON keeps
    every value exactly.
    """
    from deskpulse.core.output import render
    from deskpulse.ops.store import open_store
    columns, rows = open_store(_settings(**common)).query(sql)
    click.echo(render(columns, rows, fmt), nl=False)


@click.command()
@_common
@click.option("--user", required=True, help="The person's login.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget(user: str, yes: bool, **common: Any) -> None:
    """Erase a person's rows from every table (an audit entry records the request)."""
    from deskpulse.ops.store import open_admin
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


@click.command()
@_common
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True,
              help="How many days back from now (or before --to).")
@click.option("--from", "first", metavar="YYYY-MM-DD", callback=iso_date,
              help="First day (in the tenant's time zone).")
@click.option("--to", "last", metavar="YYYY-MM-DD", callback=iso_date,
              help="Last day, included (default: today).")
@click.option("--team", "teams", multiple=True,
              help="Only the members of this team (repeatable).")
@click.option("--user", "users", multiple=True,
              help="One person's own report; with --team, or given twice or more, the "
                   "managers' report of these people (repeatable).")
@timezone_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page with charts instead.")
def report(days: int, first: dt.date | None, last: dt.date | None, teams: tuple[str, ...],
           users: tuple[str, ...], timezone: str | None, html_file: Path | None,
           **common: Any) -> None:
    """The managers' summary (the team overview board's numbers), or one person's."""
    from deskpulse.ops.report import collect, period, render_html, render_text
    from deskpulse.ops.store import open_store
    settings = _settings(**common).with_overrides(timezone=timezone)
    if html_file is not None and not html_file.parent.is_dir():  # before the queries
        raise ConfigError(f"cannot write {html_file}: {html_file.parent} is not a directory")
    for team in teams:
        if not team.strip():
            raise ConfigError("--team must name a team (not blank)")
    start, end = period(days, first, last, settings.timezone, dt.datetime.now(dt.UTC))
    if len(users) == 1 and not teams:
        from deskpulse.ops import myreport
        [user] = users
        myreport.check_user(user)
        person = myreport.collect_person(open_store(settings), settings.tenant, user, days,
                                         end, start=start, timezone=settings.timezone)
        if html_file is None:
            click.echo(myreport.render_person_text(person))
        else:
            write_file(html_file, myreport.render_person_html(person))
            click.echo(f"wrote {html_file} ({user}, {myreport.period_text(person)})")
        return
    from deskpulse.ops import myreport
    for user in users:
        myreport.check_user(user)
    data = collect(open_store(settings), settings.tenant, days, end, start=start,
                   timezone=settings.timezone, teams=teams, users=users)
    if html_file is None:
        click.echo(render_text(data))
    else:
        write_file(html_file, render_html(data))
        click.echo(f"wrote {html_file} ({len(data.people)} people)")


@click.group(cls=Group)
def db() -> None:
    """The ClickHouse schema: migrations, cluster rendering, access control, retention."""


@db.command()
@_common
def migrate(**common: Any) -> None:
    """Apply pending migrations (the embedded stack's sink applies them when it starts)."""
    from deskpulse.ops.store import open_admin
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
    from deskpulse.ops.store import open_admin
    from sinks import retention as ttl
    changes = dict(ttl.parse_assignment(a) for a in assignments)  # all checked first
    kept = open_admin(_settings(**common)).run("retention", {"set": changes})["retention"]
    for name, days in kept.items():
        click.echo(f"{name:12s} {'forever' if days is None else f'{days} days'}")

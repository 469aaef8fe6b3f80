"""``deskpulse dnt ...`` and ``schedule ...``: who is not tracked, and when work counts."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import click

from deskpulse.cli.kit import Group, _broker, _common, _settings


def _subject(user: str | None, host: str | None) -> tuple[str, str]:
    if bool(user) == bool(host):
        raise click.UsageError("name exactly one subject: --user U or --host H")
    return ("user", user) if user else ("host", host)  # type: ignore[return-value]


@click.group(cls=Group)
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
    from deskpulse.ops.policies import KafkaPolicyTopics, add_dnt
    kind, name = _subject(user, host)
    settings = _settings(**common)
    add_dnt(KafkaPolicyTopics(_broker(settings)), settings.tenant, kind, name, reason,
            int(time.time() * 1000))
    click.echo(f"do-not-track: {kind} {name!r} in tenant {settings.tenant!r} is listed")


@dnt.command(name="remove")
@_common
@_dnt_options
def dnt_remove(user: str | None, host: str | None, **common: Any) -> None:
    """Track again from now on; the listed period stays listed."""
    from deskpulse.ops.policies import KafkaPolicyTopics, remove_dnt
    kind, name = _subject(user, host)
    settings = _settings(**common)
    if remove_dnt(KafkaPolicyTopics(_broker(settings)), settings.tenant, kind, name,
                  int(time.time() * 1000)) is None:
        raise click.UsageError(f"{kind} {name!r} is not on the do-not-track list of tenant "
                               f"{settings.tenant!r}")
    click.echo(f"do-not-track: {kind} {name!r} is tracked again from now on (events from the "
               "listed period stay dropped)")


@dnt.command(name="list")
@_common
def dnt_list(**common: Any) -> None:
    """Every subject that is or was listed, with its periods."""
    from deskpulse.adapters.policy_topics import read_policies
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
    from deskpulse.core.output import table
    click.echo(table(rows, headers=["kind", "name", "now", "listed periods (UTC)", "reason"])
               if rows else f"no do-not-track entries in tenant {settings.tenant!r}")


def _fmt_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


@click.group(cls=Group)
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
    from deskpulse.adapters.policy_topics import publish_policy
    from schemas.policy import Schedule, schedule_key
    from schemas.topics import POLICY_SCHEDULE
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
    from deskpulse.adapters.policy_topics import publish_policy
    from schemas.policy import schedule_key
    from schemas.topics import POLICY_SCHEDULE
    who = _schedule_subject(user, default)
    settings = _settings(**common)
    publish_policy(_broker(settings), POLICY_SCHEDULE, schedule_key(settings.tenant, who), None)
    click.echo(f"schedule for {'the tenant default' if who is None else who!r} cleared")


@schedule.command(name="show")
@_common
def schedule_show(**common: Any) -> None:
    """Every schedule of the tenant."""
    from deskpulse.adapters.policy_topics import read_policies
    from deskpulse.core.output import printable
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

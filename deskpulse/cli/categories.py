"""``deskpulse category ...`` and ``deskpulse recategorize``: productivity rules.

Rules, team names and members come from the policy topic and ClickHouse, so what
these commands print goes through :func:`deskpulse.core.output.printable`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import click

from deskpulse.cli.kit import Group, _broker, _common, _settings, iso_date
from deskpulse.core.output import printable, table


@click.group(cls=Group)
def category() -> None:
    """Productivity categories: rules that label apps and sites (see docs/categories.md)."""


def _matcher_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--app", help="An application name, e.g. code (any case)."),
        click.option("--domain", help="A site, e.g. github.com (covers its subdomains)."),
        click.option("--title", help="A regular expression searched in window titles."),
        click.option("--team", default="", help="Only for people in this team."),
    ]):
        func = option(func)
    return func


def _what(app: str | None, domain: str | None, title: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in (("app", app), ("domain", domain), ("title", title))
             if v is not None]
    if len(given) != 1:
        raise click.UsageError("name exactly one of --app, --domain or --title")
    return given[0]


@category.command(name="set")
@_common
@_matcher_options
@click.option("--category", "name", required=True, help="e.g. development, social.")
@click.option("--productivity", required=True,
              type=click.Choice(["productive", "neutral", "unproductive"]))
def category_set(app: str | None, domain: str | None, title: str | None, team: str, name: str,
                 productivity: str, **common: Any) -> None:
    """Add or change a rule; it labels events processed from now on."""
    from deskpulse.ops.policies import KafkaPolicyTopics, set_category
    from schemas.categories import Rule
    kind, pattern = _what(app, domain, title)
    settings = _settings(**common)
    rule = Rule.build(kind, pattern, name, productivity, tenant=settings.tenant, team=team,
                      created_ms=int(time.time() * 1000))  # refuses bad input first
    change = set_category(KafkaPolicyTopics(_broker(settings)), rule)
    click.echo(f"{'changed' if change.changed else 'added'}: {printable(change.rule.describe())}"
               "; it labels events processed from now on (history: deskpulse recategorize "
               "--since DATE)")
    if not change.team_known:
        click.echo(f"note: the workers know no members of team {team!r} yet; run "
                   "'deskpulse category sync-teams' after filling deskpulse.team_members")


@category.command(name="remove")
@_common
@_matcher_options
def category_remove(app: str | None, domain: str | None, title: str | None, team: str,
                    **common: Any) -> None:
    """Remove a rule of the tenant (the defaults and other rules apply again)."""
    from deskpulse.adapters.policy_topics import publish_policy, read_policies
    from schemas.categories import normalize_pattern, rule_key
    from schemas.topics import POLICY_CATEGORY
    kind, pattern = _what(app, domain, title)
    settings = _settings(**common)
    kafka = _broker(settings)
    key = rule_key(settings.tenant, team, kind, normalize_pattern(kind, pattern))
    if key not in read_policies(kafka).categories.rules:
        raise click.UsageError(f"tenant {settings.tenant!r} has no {kind} rule {pattern!r}"
                               + (f" for team {team!r}" if team else "")
                               + " (see: deskpulse category list)")
    publish_policy(kafka, POLICY_CATEGORY, key, None)
    click.echo(f"removed the {kind} rule {pattern!r}" + (f" of team {team!r}" if team else ""))


@category.command(name="list")
@_common
@click.option("--defaults", is_flag=True, help="Also the rules shipped with deskpulse.")
def category_list(defaults: bool, **common: Any) -> None:
    """The tenant's rules (and teams), in the order they are applied."""
    from deskpulse.adapters.policy_topics import read_policies
    settings = _settings(**common)
    book = read_policies(_broker(settings)).categories
    rules = book.tenant_rules(settings.tenant) + \
        (list(book.defaults_for(settings.tenant)) if defaults else [])
    rows = [["default" if not r.tenant else (f"team {r.team}" if r.team else "tenant"),
             r.kind, r.pattern, r.category, r.productivity] for r in rules]
    if rows:
        click.echo(table(rows, headers=["scope", "matches", "pattern", "category",
                                        "productivity"]))
    else:
        click.echo(f"no rules of tenant {settings.tenant!r}: the defaults apply "
                   "(--defaults shows them)" if book.defaults_for(settings.tenant) else
                   f"no rules in tenant {settings.tenant!r}, defaults off: all uncategorized")
    for team, members in sorted(book.tenant_teams(settings.tenant).items()):
        click.echo(printable(f"team {team}: {', '.join(sorted(members))}"))


@category.command(name="test")
@_common
@click.option("--app", default="", help="Application name.")
@click.option("--url", default="", help="A URL (its domain is used).")
@click.option("--domain", default="", help="A domain (instead of --url).")
@click.option("--title", default="", help="A window title.")
@click.option("--user", default="", help="A person (for team rules).")
def category_test(app: str, url: str, domain: str, title: str, user: str,
                  **common: Any) -> None:
    """Which rule labels this activity, and how."""
    from deskpulse.adapters.policy_topics import read_policies
    from schemas.activity import domain_of
    if not (app or url or domain or title):
        raise click.UsageError("give at least one of --app, --url, --domain, --title")
    settings = _settings(**common)
    site = domain.lower().removeprefix("www.") if domain else domain_of(url)
    found = read_policies(_broker(settings)).categories.matcher(settings.tenant).match(
        user, app, site, title)
    click.echo(printable(f"{found.label.category} / {found.label.productivity}"))
    click.echo(f"rule: {printable(found.rule.describe())}" if found.rule else
               "rule: none matches (uncategorized / neutral)")


@category.command(name="sync-teams")
@_common
def category_sync_teams(**common: Any) -> None:
    """Copy team membership from ClickHouse's team_members to the workers (for team rules)."""
    from deskpulse.ops.policies import KafkaPolicyTopics, sync_teams
    from deskpulse.ops.store import open_store
    settings = _settings(**common)
    synced = sync_teams(KafkaPolicyTopics(_broker(settings)), open_store(settings),
                        settings.tenant)
    for team, members in synced.teams.items():
        click.echo(f"team {printable(team)}: {len(members)} "
                   f"{'person' if len(members) == 1 else 'people'}")
    for team in synced.removed:
        click.echo(f"team {printable(team)}: removed")


@category.command(name="defaults")
@_common
@click.argument("state", type=click.Choice(["on", "off"]))
def category_defaults(state: str, **common: Any) -> None:
    """Use the rules shipped with deskpulse in this tenant (on, the default) or not (off)."""
    from deskpulse.adapters.policy_topics import publish_policy
    from schemas.categories import defaults_key
    from schemas.topics import POLICY_CATEGORY
    settings = _settings(**common)
    publish_policy(_broker(settings), POLICY_CATEGORY, defaults_key(settings.tenant),
                   {"enabled": state == "on"})
    click.echo(f"shipped default rules are {state} in tenant {settings.tenant!r} for events "
               "processed from now on")


@click.command()
@_common
@click.option("--since", required=True, callback=iso_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def recategorize(since: dt.date, yes: bool, **common: Any) -> None:
    """Relabel stored spans and rollups since a day with today's rules."""
    from deskpulse.adapters.policy_topics import read_policies
    from deskpulse.ops.store import open_admin
    settings = _settings(**common)
    if since > dt.datetime.now(dt.UTC).date():
        raise click.BadParameter(f"{since} is in the future", param_hint="--since")
    if not yes:
        click.confirm(f"Relabel tenant {settings.tenant!r}'s history since {since} with the "
                      "current rules?", abort=True)
    admin = open_admin(settings, policies=lambda: read_policies(_broker(settings)))
    done = admin.run("recategorize", {"tenant": settings.tenant, "since": since.isoformat()},
                     progress=lambda m: click.echo(f"  {m}"))
    click.echo(f"relabelled {sum(done['rows'].values()):,} rows from {done['activities']:,} "
               f"activities since {since} (totals unchanged)")

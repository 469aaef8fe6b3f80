"""``deskpulse team``: team membership (``deskpulse.team_members``), an admin operation."""

from __future__ import annotations

from typing import Any

import click

from deskpulse.cli.kit import Group, _common, _settings


@click.group(cls=Group)
def team() -> None:
    """Team membership: who is in a team, and who manages it."""


@team.command(name="add")
@_common
@click.option("--team", "team_name", required=True, help="The team.")
@click.option("--user", required=True, help="The person's login.")
@click.option("--role", type=click.Choice(["member", "manager"]), default="member",
              show_default=True)
def team_add(team_name: str, user: str, role: str, **common: Any) -> None:
    """Add a person to a team (or change their role in it)."""
    from deskpulse.ops.store import open_admin
    settings = _settings(**common)
    open_admin(settings).run("team", {"tenant": settings.tenant, "team": team_name,
                                      "user": user, "role": role})
    click.echo(f"team {team_name}: {user!r} is a {role} (run 'deskpulse category sync-teams' "
               "for team rules)")


@team.command(name="remove")
@_common
@click.option("--team", "team_name", required=True, help="The team.")
@click.option("--user", required=True, help="The person's login.")
def team_remove(team_name: str, user: str, **common: Any) -> None:
    """Remove a person from a team."""
    from deskpulse.ops.store import open_admin
    settings = _settings(**common)
    open_admin(settings).run("team", {"tenant": settings.tenant, "team": team_name,
                                      "user": user, "remove": True})
    click.echo(f"team {team_name}: {user!r} removed")


@team.command(name="list")
@_common
def team_list(**common: Any) -> None:
    """Every team of the tenant and its people."""
    from deskpulse.core.sql import literal
    from deskpulse.ops.store import open_store
    settings = _settings(**common)
    _, rows = open_store(settings).query(
        "SELECT team, user, toString(role) FROM deskpulse.team_members "
        f"WHERE tenant = {literal(settings.tenant)} ORDER BY team, user")
    if not rows:
        click.echo(f"no teams in tenant {settings.tenant!r}")
    for name, user, role in rows:
        click.echo(f"{name:20s} {user:30s} {role}")

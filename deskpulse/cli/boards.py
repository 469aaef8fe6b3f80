"""``deskpulse grafana ...``: the managers' boards as files or in a Grafana."""

from __future__ import annotations

from pathlib import Path

import click

from deskpulse.cli.kit import Group, timezone_option, usable_dir, zone


@click.group(cls=Group)
def grafana() -> None:
    """The managers' boards: export them as files, or push them to a Grafana."""


@grafana.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("deploy/grafana/dashboards"), show_default=True)
@timezone_option
def export(out: Path, timezone: str | None) -> None:
    """Write the boards' dashboard JSON (for provisioning or import)."""
    from deskpulse.ops.boards.dashboards import export as export_boards
    for path in export_boards(usable_dir(out, "output dir", 0o777), zone(timezone)):
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
@timezone_option
def deploy(url: str, token: str, clickhouse_host: str, clickhouse_port: int,
           clickhouse_user: str, clickhouse_password: str, insecure: bool,
           managers_team: str | None, timezone: str | None) -> None:
    """Create or update the folder, the datasource and the boards (idempotent)."""
    from deskpulse.ops.boards.deploy import ClickHouseConnection
    from deskpulse.ops.boards.deploy import deploy as push
    connection = ClickHouseConnection(host=clickhouse_host, port=clickhouse_port,
                                      secure=not insecure, username=clickhouse_user,
                                      password=clickhouse_password)
    changes = push(url, token, connection, managers_team, timezone=zone(timezone))
    for item in changes.made:
        click.echo(f"updated   {item}")
    for item in changes.unchanged:
        click.echo(f"unchanged {item}")
    click.echo("Grafana is up to date" + ("" if changes.made else " (nothing changed)"))

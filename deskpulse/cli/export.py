"""``deskpulse export``: a person's subject-access export (see :mod:`sinks.export`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from deskpulse.cli.kit import _broker, _common, _settings, usable_dir
from deskpulse.core.errors import ConfigError


@click.command()
@_common
@click.option("--user", required=True, help="The person's login.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="An empty or new directory for the files (created with mode 0700).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
def export(user: str, out: Path, fmt: str, **common: Any) -> None:
    """Everything stored about a person, with a manifest (the request is audited)."""
    from deskpulse.adapters.policy_topics import read_policies
    from deskpulse.core.privatefiles import write_private
    from deskpulse.ops.store import open_admin
    from sinks.erase import check_subject
    from sinks.export import manifest, policy_rows, render
    settings = _settings(**common)
    check_subject(settings.tenant, user, "export")  # first: a blank login names nobody
    if out.exists() and out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"output dir {out} is not empty",
                          hint="give a new or empty directory: an export is never mixed "
                               "with other files")
    usable_dir(out, "output dir", 0o700)
    policies = read_policies(_broker(settings))  # first: a missing broker audits nothing
    answer = open_admin(settings).run("export", {"tenant": settings.tenant, "user": user})
    tables = dict(answer["tables"])
    tables.update(policy_rows(policies, settings.tenant, user, tables))
    files = {}
    for name, table in tables.items():
        files[name] = f"{name}.{fmt}"
        write_private(out / files[name], render(table, fmt))
    summary = manifest(settings.tenant, user, answer["request_id"], tables,
                       dt.datetime.now(dt.UTC), files, fmt)
    write_private(out / "manifest.json",
                  json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    for name, n in summary["rows"].items():
        click.echo(f"{name:20s} {n:>10,} rows")
    click.echo(f"wrote {out} ({sum(summary['rows'].values()):,} rows, manifest.json); "
               f"request {answer['request_id']} is audited")

"""``deskpulse device ...``: enrol computers, revoke their credentials, set a tenant's mode.

Secrets never travel on the command line: the deployment secret is read from a
file (``--secret-file``, ``DESKPULSE_DEVICE_SECRET_FILE``; mode 0600), from
``DESKPULSE_DEVICE_SECRET``, or, for the embedded stack, from its data dir.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from deskpulse.cli.kit import Group, _common, _kafka, _settings
from deskpulse.core.errors import ConfigError

_SECRET_HELP = ("File holding the deployment or the tenant's secret (default: "
                "DESKPULSE_DEVICE_SECRET_FILE, DESKPULSE_DEVICE_SECRET, then the embedded "
                "stack's).")


@click.group(cls=Group)
def device() -> None:
    """Device credentials: each computer signs what it sends (see deploy/README.md)."""


def _secret(secret_file: Path | None, data_dir: Path) -> Any:
    from deskpulse.core.devices import load_secret
    secret = load_secret(secret_file, data_dir=data_dir)
    if secret is None:
        raise ConfigError("no device secret to enrol with",
                          hint="give --secret-file, set DESKPULSE_DEVICE_SECRET_FILE, or "
                               "create one with 'deskpulse device secret --out FILE'")
    return secret


def _write_or_echo(text: str, out: Path | None, what: str) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    from deskpulse.core.devices import write_private
    write_private(out, text)
    click.echo(f"{what} written to {out} (mode 0600)", err=True)


@device.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write it (mode 0600; an existing file is kept).")
def secret(out: Path) -> None:
    """Create a deployment secret: stream workers verify with it, enrolment derives from it."""
    from deskpulse.core.devices import write_private
    from schemas.auth import EnrolmentSecret, new_root_secret, secret_digest
    root = EnrolmentSecret(new_root_secret())
    write_private(out, root.to_text(), overwrite=False)
    click.echo(f"deployment secret {secret_digest(root.secret)} written to {out} (mode 0600)")


@device.command(name="tenant-secret")
@_common
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path),
              help=_SECRET_HELP)
def tenant_secret(out: Path, secret_file: Path | None, **common: Any) -> None:
    """The tenant's own secret: it enrols that tenant's computers and no other's."""
    settings = _settings(**common)
    derived = _secret(secret_file, settings.data_dir).for_tenant(settings.tenant)
    _write_or_echo(derived.to_text(), out, f"secret of tenant {settings.tenant}")


@device.command()
@_common
@click.option("--host", required=True, help="The computer's name, as its collector reports it.")
@click.option("--user", help="Only this person's events (a computer one person uses).")
@click.option("--generation", type=click.IntRange(1, 1_000_000), default=1, show_default=True,
              help="Raise it to rotate the key (then revoke the older ones).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the credential here (mode 0600) instead of printing it.")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path),
              help=_SECRET_HELP)
def enrol(host: str, user: str | None, generation: int, out: Path | None,
          secret_file: Path | None, **common: Any) -> None:
    """Give a computer its own credential (the collector's [kafka] device_credential)."""
    settings = _settings(**common)
    credential = _secret(secret_file, settings.data_dir).enrol(settings.tenant, host, user,
                                                               generation)
    whom = f"{user}@{host}" if user else host
    _write_or_echo(credential.to_text(), out,
                   f"credential of {whom} (tenant {settings.tenant}, generation {generation})")
    if out is not None:
        click.echo(f"collector.toml: [kafka] device_credential = \"{out}\"", err=True)


def _publish(common: dict[str, Any], key: str, record: dict | None) -> str:
    from deskpulse.adapters.policy_topics import publish_policy
    from schemas.topics import POLICY_DEVICE
    settings = _settings(**common)
    publish_policy(_kafka(settings), POLICY_DEVICE, key, record)
    return settings.tenant


def _subject(host: str, user: str | None) -> str:
    return f"{user} on {host}" if user else f"every credential of {host}"


@device.command()
@_common
@click.option("--host", required=True)
@click.option("--user", help="Only this person's credential on that computer.")
@click.option("--below", type=click.IntRange(1, 1_000_000),
              help="Refuse generations below this one only (after a rotation).")
@click.option("--reason", default="", help="Kept with the record.")
def revoke(host: str, user: str | None, below: int | None, reason: str, **common: Any) -> None:
    """Refuse a computer's credential from now on (its events are dead-lettered)."""
    from schemas.device_policy import floor_key, revocation_record
    tenant = _settings(**common).tenant
    _publish(common, floor_key(tenant, host, user),
             revocation_record(tenant, host, user, below, int(time.time() * 1000), reason))
    which = f"generations below {below}" if below else "every generation"
    click.echo(f"revoked {_subject(host, user)} in tenant {tenant}: {which}")


@device.command()
@_common
@click.option("--host", required=True)
@click.option("--user")
def allow(host: str, user: str | None, **common: Any) -> None:
    """Take back a revocation."""
    from schemas.device_policy import floor_key
    tenant = _settings(**common).tenant
    _publish(common, floor_key(tenant, host, user), None)
    click.echo(f"{_subject(host, user)} in tenant {tenant} is accepted again")


@device.command()
@_common
@click.argument("mode", type=click.Choice(["enforce", "warn", "off", "default"]))
def mode(mode: str, **common: Any) -> None:
    """The tenant's device authentication: enforce, warn (accept, count), off, or default."""
    from schemas.device_policy import mode_key, mode_record
    tenant = _settings(**common).tenant
    _publish(common, mode_key(tenant),
             None if mode == "default" else mode_record(tenant, mode, int(time.time() * 1000)))
    click.echo(f"device authentication of tenant {tenant}: "
               f"{'the workers default' if mode == 'default' else mode}")


@device.command(name="list")
@_common
def list_devices(**common: Any) -> None:
    """The tenant's mode and its revoked credentials."""
    from deskpulse.adapters.policy_topics import read_policies
    from schemas.device_policy import REVOKED
    settings = _settings(**common)
    devices = read_policies(_kafka(settings)).devices
    click.echo(f"mode: {devices.modes.get(settings.tenant, 'the workers default')}")
    floors = sorted((k, v) for k, v in devices.floors.items() if k[0] == settings.tenant)
    if not floors:
        click.echo("no revoked credentials")
    for (_, host, user), floor in floors:
        which = "every generation" if floor == REVOKED else f"generations below {floor}"
        click.echo(f"revoked: {_subject(host, user or None)}: {which}")

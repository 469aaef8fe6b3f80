"""``deskpulse collect``, ``collector ...`` and ``extension build``: this desktop's collector."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from deskpulse.cli.kit import Group, _common, _kafka, _settings, usable_dir
from deskpulse.core.errors import StackNotRunning
from deskpulse.core.settings import ENV_BOOTSTRAP, ENV_CONFIG, ENV_DATA_DIR, ENV_TENANT, Settings


@click.group(cls=Group)
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


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--for`` of ``collector pause``, bounded like the collector bounds it (one-line error)."""
    from collector.standalone import pause_for
    return None if value is None else pause_for(value)


def _collector_settings(common: dict[str, Any]) -> tuple[Any, Settings]:
    from collector.config import collector_settings
    from deskpulse.core.settings import collector_env, read_config
    settings = _settings(**common)
    raw = read_config(common.get("config_file"))
    section = raw.get("collector", {})
    return collector_settings(section, collector_env(), tenant=settings.tenant,
                              data_dir=settings.data_dir), settings


@click.command()
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


@click.group(cls=Group)
def collector() -> None:
    """Talk to the running collector: private mode and status."""


def _control(common: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    from collector.control import request
    csettings, _ = _collector_settings(common)
    return request(csettings.control_socket, body)


def _show_collector(state: dict[str, Any]) -> None:
    from collector.standalone import status_lines
    for line in status_lines(state):
        click.echo(line)


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


from deskpulse.cli.mydata import collector_open  # noqa: E402 - a subcommand of the group above

collector.add_command(collector_open)

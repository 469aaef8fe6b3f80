"""``deskpulse collector open``: open the person's "my data" page of the running collector."""

from __future__ import annotations

import json
from typing import Any

import click

from deskpulse.cli.kit import _common
from deskpulse.core.errors import ConfigError, StackNotRunning


def page_address(common: dict[str, Any]) -> str:
    """The page's URL with the token in its fragment, from the collector's 0600 token file."""
    from collector.mydata.server import token_file
    from deskpulse.cli.collector import _collector_settings
    from deskpulse.core.privatefiles import read_private
    csettings, _ = _collector_settings(common)
    path = token_file(csettings.control_socket)
    if not path.exists():
        raise StackNotRunning(f"no my-data page is running (no {path})",
                              hint="start the collector with 'deskpulse collect' (and "
                                   "my_data = true, the default)")
    try:
        found = json.loads(read_private(path, "my-data token file"))
        url, token = str(found["url"]), str(found["token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the my-data token file {path} is unreadable: {exc}") from exc
    return f"{url}#token={token}"


@click.command(name="open")
@_common
@click.option("--print-url", is_flag=True,
              help="Print the address (it holds your token) instead of opening a browser.")
def collector_open(print_url: bool, **common: Any) -> None:
    """Open your "my data" page: what this computer recorded today, and pause controls."""
    import webbrowser
    address = page_address(common)
    if print_url:
        click.echo(address)
        return
    if not webbrowser.open(address):
        raise ConfigError("no web browser could be started here",
                          hint="run 'deskpulse collector open --print-url' and open the "
                               "address in a browser of this session")
    click.echo("opened your my-data page in the browser")

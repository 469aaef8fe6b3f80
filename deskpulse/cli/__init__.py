"""The ``deskpulse`` command: the face of deskpulse (README "Layout").

The root group is here; the commands are in one module per topic (``stack``, ``data``,
``policies``, ``categories``, ``devices``, ``teams``, ``collector``, ``boards``). A
command parses its options, calls an operation (:mod:`deskpulse.ops`) or a stage, and
prints; nothing imports this package.
"""

from __future__ import annotations

import logging

import click

from deskpulse import __version__
from deskpulse.cli.boards import grafana
from deskpulse.cli.categories import category, recategorize
from deskpulse.cli.collector import collect, collector, extension
from deskpulse.cli.data import db, forget, query, report
from deskpulse.cli.devices import device
from deskpulse.cli.export import export as subject_export
from deskpulse.cli.kit import Group
from deskpulse.cli.policies import dnt, schedule
from deskpulse.cli.stack import demo, simulate, status, up
from deskpulse.cli.teams import team

logger = logging.getLogger(__name__)


def _log_level(verbose: int) -> None:
    from deskpulse.core.logs import configure_process_logging
    configure_process_logging("DEBUG" if verbose > 1 else "INFO" if verbose else "WARNING")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deskpulse")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """deskpulse: privacy-first workplace telemetry (collector -> Kafka -> Faust -> ClickHouse)."""
    _log_level(verbose)


# one module per topic; each command only parses and prints, the work is in
# deskpulse.ops and the stages
for command in (up, status, query, forget, subject_export, extension, grafana, db, report,
                simulate, demo,
                collect, collector, dnt, schedule, category, recategorize, device, team):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="deskpulse")

"""``deskpulse-collector``: the collector's own small command, the entry point of the frozen build.

The packages for desktops (``make package``: the ``.deb``, the ``.rpm``, the Windows
install script) ship the collector frozen with PyInstaller, so that a desktop needs no
Python. This command is all it holds: no click, no CLI modules, no chDB or Faust::

    deskpulse-collector collect                      run the collector (foreground)
    deskpulse-collector pause [--for 30m] | resume   private mode, through the control channel
    deskpulse-collector status                       recording? spool? probe, permissions
    deskpulse-collector collector pause ...          the same, spelled like ``deskpulse``
    deskpulse-collector --version

Options before the command: ``--config FILE``, ``--bootstrap HOST:PORT``, ``--data-dir DIR``,
``--tenant T`` (the same sources as ``deskpulse``: flag > environment > config file).

The config file is ``--config``, else ``DESKPULSE_CONFIG``, else the person's
``~/.config/deskpulse/config.toml`` when it exists, else the package's fleet default
``/etc/deskpulse/config.toml`` (:data:`SYSTEM_CONFIG`). Errors are one line
``Type: message`` and a non-zero exit code, as everywhere in deskpulse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deskpulse import __version__
from deskpulse.core.errors import ConfigError, DeskpulseError, StackNotRunning

#: the fleet default a package installs (a conffile: upgrades keep the admin's edits)
SYSTEM_CONFIG = Path("/etc/deskpulse/config.toml")
ENV_CONFIG = "DESKPULSE_CONFIG"


def parse_duration(text: str) -> float:
    """``"30m"``, ``"1h30m"``, ``"90s"``, ``"2d"`` -> seconds; ValueError otherwise."""
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip().lower())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(text)
    d, h, mi, se = (int(g or 0) for g in m.groups())  # ValueError past 4300 digits too
    return float(d * 86400 + h * 3600 + mi * 60 + se)


def pause_for(text: str) -> float:
    """``--for`` of ``pause``: bounded like the collector bounds it, else a ConfigError."""
    from collector.control import PAUSE_MAX_S, PAUSE_MIN_S
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--for {shown!r} is not a duration like 30m, 1h30m, 90s or 2d"
                          ) from exc
    if not PAUSE_MIN_S <= seconds <= PAUSE_MAX_S:
        raise ConfigError(f"--for {shown!r}: a timed pause lasts from {PAUSE_MIN_S}s to "
                          f"{PAUSE_MAX_S // 86400}d; without --for it lasts until resumed")
    return seconds


def config_file(flag: str | None, environ: Mapping[str, str], home_config: Path,
                system_config: Path = SYSTEM_CONFIG) -> str | None:
    """Which config file to read (pure): flag, environment, the person's, the fleet's."""
    if flag:
        return flag
    if environ.get(ENV_CONFIG):
        return environ[ENV_CONFIG]
    if home_config.exists():
        return str(home_config)
    if system_config.exists():
        return str(system_config)
    return None


def status_lines(state: Mapping[str, Any]) -> list[str]:
    """What ``status``, ``pause`` and ``resume`` print from the collector's answer."""
    lines = []
    if state["paused"]:
        until = state.get("paused_until_ms")
        when = (dt.datetime.fromtimestamp(until / 1000, dt.UTC).strftime("%H:%M:%S UTC")
                if until else "you resume")
        lines.append(f"private mode: ON (nothing is recorded until {when})")
    else:
        lines.append("private mode: off (recording)")
    lines.append(f"spool: {state['spooled']} events waiting, {state['dropped']} dropped when "
                 f"full; published {state['published']} since start")
    if state.get("session"):
        from collector.probes.select import describe
        lines.append(f"session: {describe(state['session'])}"
                     + ("; away now (locked or asleep)" if state.get("away") else ""))
    return lines


class _Parser(argparse.ArgumentParser):
    """A command line that cannot be parsed is one line ``UsageError: ...``, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"UsageError: {message} (see deskpulse-collector --help)", file=sys.stderr)
        sys.exit(2)


def _options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--config", default=default, help="config file (default: "
                        f"~/.config/deskpulse/config.toml, else {SYSTEM_CONFIG})")
    parser.add_argument("--bootstrap", default=default,
                        help="Kafka bootstrap servers (host:port,...)")
    parser.add_argument("--data-dir", default=default, help="data directory (spool)")
    parser.add_argument("--tenant", default=default, help="tenant")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deskpulse-collector",
                     description="The deskpulse collector for this desktop.")
    parser.add_argument("--version", action="version",
                        version=f"deskpulse-collector {__version__}")
    _options(parser)
    # the same options after the command too (`collect --config FILE`, as services write it)
    after = _Parser(add_help=False)
    _options(after, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    commands.add_parser("collect", parents=[after], help="run the collector in the foreground")
    pause = commands.add_parser("pause", parents=[after],
                                help="private mode: record nothing until resumed")
    pause.add_argument("--for", dest="for_", metavar="DURATION",
                       help="how long, 1s to 7d, e.g. 30m (default: until resume)")
    commands.add_parser("resume", parents=[after], help="leave private mode")
    commands.add_parser("status", parents=[after],
                        help="is the collector recording? (exit 0 when it runs)")
    return parser


def _export(args: argparse.Namespace, environ: dict[str, str]) -> None:
    """Flags as the environment the collector reads (flag > environment > file)."""
    from deskpulse.core.settings import (
        ENV_BOOTSTRAP,
        ENV_DATA_DIR,
        ENV_TENANT,
        default_config_path,
    )
    chosen = config_file(args.config, environ, default_config_path())
    if chosen is not None:
        environ[ENV_CONFIG] = chosen
    for name, value in ((ENV_BOOTSTRAP, args.bootstrap), (ENV_DATA_DIR, args.data_dir),
                        (ENV_TENANT, args.tenant)):
        if value:
            environ[name] = value


def _control(body: dict[str, Any]) -> dict[str, Any]:
    from collector.config import collector_settings
    from collector.control import request
    from deskpulse.core.settings import collector_env, load_settings, read_config
    settings = load_settings()
    csettings = collector_settings(read_config().get("collector", {}), collector_env(),
                                   tenant=settings.tenant, data_dir=settings.data_dir)
    try:
        return request(csettings.control_socket, body)
    except StackNotRunning:
        if body["cmd"] == "status":
            from collector.probes.select import diagnose
            print(f"here: {diagnose(dict(os.environ), csettings.probe)}", file=sys.stderr)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["collector"]:  # `deskpulse-collector collector pause`, like deskpulse
        args_in = args_in[1:]
    args = _parser().parse_args(args_in)
    try:
        _export(args, os.environ)  # type: ignore[arg-type]
        if args.command == "collect":
            from collector.main import main as collect
            return collect()
        body: dict[str, Any] = {"cmd": args.command}
        if args.command == "pause":
            body["for_s"] = pause_for(args.for_) if args.for_ is not None else None
        for line in status_lines(_control(body)):
            print(line)
        return 0
    except DeskpulseError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())

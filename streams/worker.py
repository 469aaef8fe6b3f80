"""Entry point of one stream worker process: ``python -m streams.worker``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import faust

from deskpulse.core.errors import DeskpulseError
from deskpulse.core.procs import add_process_options, exit_when_orphaned
from deskpulse.core.settings import kafka_extra_from_env
from schemas.device_policy import MODES
from streams.app import WorkerSettings, create_app


def build_parser() -> argparse.ArgumentParser:
    """The command line (also checked against the deployment files by the tests)."""
    parser = argparse.ArgumentParser(prog="deskpulse-streams")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--web-host", default="127.0.0.1",
                        help="address of /health, /live and /metrics (0.0.0.0 in a container)")
    parser.add_argument("--app-id", default="deskpulse-streams")
    parser.add_argument("--device-auth", choices=MODES, default=None,
                        help="device authentication of tenants without a mode of their own "
                             "(deskpulse device mode); default: enforce when a device secret "
                             "is given, else warn")
    parser.add_argument("--device-secret-file", type=Path, default=None,
                        help="the deployment secret (mode 0600); or the environment: "
                             "DESKPULSE_DEVICE_SECRET_FILE, DESKPULSE_DEVICE_SECRET")
    return add_process_options(parser, loglevel="warning")


def device_settings(args: argparse.Namespace) -> tuple[str, bytes | None]:
    """The default mode and the deployment secret (a tenant's secret is refused here)."""
    from deskpulse.core.devices import load_secret
    from schemas.auth import CredentialError
    secret = load_secret(args.device_secret_file)
    if secret is not None and secret.tenant is not None:
        raise CredentialError("the stream worker needs the deployment secret "
                              "(deskpulse-root-v1), not the secret of one tenant")
    mode = args.device_auth or ("enforce" if secret is not None else "warn")
    if mode == "enforce" and secret is None:
        raise CredentialError("--device-auth enforce needs the deployment secret",
                              hint="set --device-secret-file or DESKPULSE_DEVICE_SECRET_FILE")
    return mode, None if secret is None else secret.secret


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.standalone:
        exit_when_orphaned()
    if args.loglevel.lower() != "debug":
        # Faust and aiokafka format a debug record per message sent; with the root logger
        # left at DEBUG by the worker's set-up that cost ~10 % of the worker's CPU.
        logging.disable(logging.DEBUG)
    try:
        mode, secret = device_settings(args)
    except DeskpulseError as exc:
        parser.exit(2, f"{type(exc).__name__}: {exc}\n")
    settings = WorkerSettings(bootstrap=args.bootstrap, data_dir=args.data_dir,
                              web_port=args.web_port, web_host=args.web_host, app_id=args.app_id,
                              kafka_extra=kafka_extra_from_env(os.environ),
                              device_auth=mode, device_secret=secret)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
    logging.getLogger(__name__).info("starting stream worker %s", settings)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()

"""Entry point of the sink process: ``python -m sinks.main``.

Opens the store, applies migrations, serves the loopback endpoint and runs the
Kafka loop until SIGTERM/SIGINT.

Secrets never travel on the command line (every local user can read
``/proc/PID/cmdline``): the query token comes from ``DESKPULSE_QUERY_TOKEN`` or
``--token-file``, the admin token (which enables ``/admin/...``) from
``DESKPULSE_ADMIN_TOKEN`` or ``--admin-token-file``, and a ClickHouse DSN with a
password from ``DESKPULSE_CLICKHOUSE``. A token file must not be readable by group
or others. Every file the sink creates is private to its user (umask 077).
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from deskpulse.core.errors import ConfigError
from deskpulse.core.logs import configure_process_logging
from deskpulse.core.metrics import Metric, prometheus_text
from deskpulse.core.procs import add_process_options, exit_when_orphaned, stop_on_signals
from deskpulse.core.settings import ENV_CLICKHOUSE, KafkaSettings, kafka_extra_from_env
from sinks import admin as admin_ops
from sinks import migrate, rollup
from sinks.loop import SinkLoop, SinkState
from sinks.readonly import QueryLimits
from sinks.server import StoreEndpoint
from sinks.writer import ClickHouseWriter, ClientStore, ReadOnlyQueries, connect

logger = logging.getLogger(__name__)

ENV_QUERY_TOKEN = "DESKPULSE_QUERY_TOKEN"
ENV_ADMIN_TOKEN = "DESKPULSE_ADMIN_TOKEN"
MIN_TOKEN_CHARS = 16


def metrics_text(state: SinkState) -> str:
    """The sink's numbers (lag, unwritten, writing...) as Prometheus text."""
    return prometheus_text(Metric(f"deskpulse_sink_{name}", int(value) if isinstance(
        value, bool) else value) for name, value in state.as_dict().items()
        if isinstance(value, int | float))


class _NoSecretOnArgv(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string} is not accepted: a secret on the command line is "
                     f"readable by every local user in /proc; set {ENV_QUERY_TOKEN} or "
                     "use --token-file")


def build_parser() -> argparse.ArgumentParser:
    """The command line (also checked against the deployment files by the tests)."""
    parser = argparse.ArgumentParser(prog="deskpulse-sink")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--clickhouse", default=None,
                        help=f"chdb:///path or http(s)://... (default: ${ENV_CLICKHOUSE}, "
                             "where a DSN with a password belongs)")
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--token-file", type=Path,
                        help=f"file with the query token (default: ${ENV_QUERY_TOKEN})")
    parser.add_argument("--admin-token-file", type=Path,
                        help=f"file with the admin token (default: ${ENV_ADMIN_TOKEN}; "
                             "neither: no admin operations)")
    parser.add_argument("--token", action=_NoSecretOnArgv, help=argparse.SUPPRESS)
    limits = QueryLimits()
    parser.add_argument("--max-result-rows", type=int, default=limits.max_result_rows,
                        help="rows a query may return (0: no bound)")
    parser.add_argument("--max-result-bytes", type=int, default=limits.max_result_bytes,
                        help="bytes a query result may have (0: no bound)")
    parser.add_argument("--max-query-seconds", type=int, default=limits.max_execution_s,
                        help="seconds a query may run (0: no bound)")
    return add_process_options(parser, loglevel="INFO")


def read_secret(name: str, path: Path | None, env_name: str, *,
                environ: dict[str, str], required: bool) -> str | None:
    """A token from its file (which must be private) or the environment."""
    if path is not None:
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(f"{name} file {path} is readable by others (mode "
                                  f"{stat.S_IMODE(mode):04o}); chmod 600 it")
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the {name} file {path}: {exc}") from exc
    else:
        value = environ.get(env_name, "").strip()
    if not value:
        if required:
            raise ConfigError(f"no {name}: set {env_name} or pass --{name.replace(' ', '-')}"
                              "-file")
        return None
    if len(value) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the {name} is shorter than {MIN_TOKEN_CHARS} characters")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_process_logging(args.loglevel)
    os.umask(0o077)  # the store, its temporary files and anything else: private
    environ = dict(os.environ)
    for name in (ENV_QUERY_TOKEN, ENV_ADMIN_TOKEN):
        os.environ.pop(name, None)  # not inherited by anything this process starts
    try:
        token = read_secret("token", args.token_file, ENV_QUERY_TOKEN, environ=environ,
                            required=True)
        admin_token = read_secret("admin token", args.admin_token_file, ENV_ADMIN_TOKEN,
                                  environ=environ, required=False)
        dsn = args.clickhouse or environ.get(ENV_CLICKHOUSE)
        if not dsn:
            raise ConfigError(f"no ClickHouse: pass --clickhouse or set {ENV_CLICKHOUSE}")
        limits = QueryLimits(args.max_result_rows, args.max_result_bytes,
                             args.max_query_seconds)
    except (ConfigError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    if not args.standalone:
        exit_when_orphaned()

    stop = stop_on_signals()

    writer_client = connect(dsn)
    applied = migrate.apply(ClientStore(writer_client))
    logger.info("migrations applied: %s", [m.version for m in applied] or "none pending")

    state = SinkState()
    kafka = KafkaSettings(bootstrap=args.bootstrap,
                          extra=MappingProxyType(kafka_extra_from_env(environ)))
    loop = SinkLoop(kafka, ClickHouseWriter(writer_client), state=state,
                    refresher=lambda: rollup.refresh(ClientStore(writer_client),
                                                     lag_s=loop.settings.refresh_lag_s))
    endpoint = StoreEndpoint(host=args.http_host, port=args.http_port, token=token,
                             health=state.as_dict,
                             query=ReadOnlyQueries(dsn, limits),  # a handle of its own
                             metrics=lambda: metrics_text(state),
                             admin_token=admin_token,
                             admin=admin_runner(dsn, kafka) if admin_token else None)
    endpoint.start()
    logger.info("store endpoint on http://%s:%d (admin operations %s; results up to %s rows)",
                args.http_host, endpoint.port, "on" if admin_token else "off",
                limits.max_result_rows or "any number of")
    try:
        loop.run(stop)
    finally:
        endpoint.stop()
        logger.info("sink stopped")


def admin_runner(dsn: str, kafka: KafkaSettings) -> Callable[[str, dict[str, Any]],
                                                            dict[str, Any]]:
    """Named admin operations, each on a new ClickHouse handle of its own (chDB sessions
    are per handle: no state of any earlier query or operation reaches it)."""
    def policies() -> Any:
        from deskpulse.adapters.policy_topics import read_policies
        return read_policies(kafka)

    def run(op: str, params: dict[str, Any]) -> dict[str, Any]:
        client = connect(dsn)
        try:
            return admin_ops.run(op, params, admin_ops.AdminContext(ClientStore(client),
                                                                    policies))
        finally:
            client.close()
    return run


if __name__ == "__main__":
    main()

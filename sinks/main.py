"""Entry point of the sink process: ``python -m sinks.main``.

Opens the store, applies migrations, serves the loopback endpoint and runs the
Kafka loop until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from types import FrameType, MappingProxyType

from deskpulse.logs import configure_process_logging
from deskpulse.procs import exit_when_orphaned
from deskpulse.settings import KafkaSettings, kafka_extra_from_env
from sinks import migrate
from sinks.loop import SinkLoop, SinkState
from sinks.server import StoreEndpoint
from sinks.writer import ClickHouseWriter, ClientStore, connect, run_query

logger = logging.getLogger(__name__)


def metrics_text(state: SinkState) -> str:
    lines = []
    for name, value in state.as_dict().items():
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int | float):
            lines.append(f"deskpulse_sink_{name} {value}")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line (also checked against the deployment files by the tests)."""
    parser = argparse.ArgumentParser(prog="deskpulse-sink")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--clickhouse", required=True, help="chdb:///path or http(s)://...")
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--standalone", action="store_true",
                        help="keep running when the parent process exits")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_process_logging(args.loglevel)
    if not args.standalone:
        exit_when_orphaned()

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    writer_client = connect(args.clickhouse)
    applied = migrate.apply(ClientStore(writer_client))
    logger.info("migrations applied: %s", [m.version for m in applied] or "none pending")
    query_client = connect(args.clickhouse)  # its own handle: queries never wait for inserts

    state = SinkState()
    kafka = KafkaSettings(bootstrap=args.bootstrap,
                          extra=MappingProxyType(kafka_extra_from_env(os.environ)))
    loop = SinkLoop(kafka, ClickHouseWriter(writer_client), state=state)
    endpoint = StoreEndpoint(host=args.http_host, port=args.http_port, token=args.token,
                             health=state.as_dict,
                             query=lambda sql: run_query(query_client, sql),
                             metrics=lambda: metrics_text(state))
    endpoint.start()
    logger.info("store endpoint on http://%s:%d", args.http_host, endpoint.port)
    try:
        loop.run(stop)
    finally:
        endpoint.stop()
        logger.info("sink stopped")


if __name__ == "__main__":
    main()

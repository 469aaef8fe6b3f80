"""``deskpulse collect``: wire the real collector together and run it in the foreground.

If the control socket stops serving, the collector stops recording and exits with
code 1 (its service manager restarts it; a pause in force is kept in the spool).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from collector.agent import Collector
from collector.config import CollectorSettings
from collector.control import ControlLost, ControlServer
from collector.idle import InputActivity
from collector.probes import ProbeLost, WindowProbe
from collector.probes.select import Session, open_session
from collector.publisher import Publisher
from collector.spool import Spool
from deskpulse.core.errors import ConfigError
from deskpulse.core.procs import stop_on_signals
from deskpulse.core.settings import KafkaSettings

logger = logging.getLogger(__name__)


def write_atomically(path: Path, text: str) -> None:
    """Readers (node_exporter) never see a half-written file.

    Mode 0644 whatever the umask: node_exporter runs as another user, and the file
    holds only counters and the paused flag, which Prometheus gets anyway.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write the metrics file %s: %s", path, exc)


def run_collector(settings: CollectorSettings, kafka: KafkaSettings,
                  probe: WindowProbe | None = None,
                  after_start: Callable[[], None] | None = None,
                  session: Session | None = None) -> int:
    """Run until SIGTERM/SIGINT or until the display goes away; returns an exit code.

    ``after_start`` runs once started and then about once a minute (memory housekeeping).
    """
    if session is None and probe is None:
        session = open_session(dict(os.environ), settings.probe, settings.idle_threshold)
    if session is not None:
        probe, idle = session.probe, session.idle
    else:
        idle = InputActivity()
    assert probe is not None
    idle.start()
    assert settings.spool_path is not None and settings.control_socket is not None
    spool = Spool(settings.spool_path, max_events=settings.spool_max_events)
    publisher = Publisher(kafka)
    browser = reports = None
    if settings.browser_port:
        # imported only when used (the collector budgets its RSS, issue 21)
        from collector.browser import BrowserEndpoint, BrowserReports
        reports = BrowserReports()
        try:
            browser = BrowserEndpoint(reports, port=settings.browser_port,
                                      token=settings.browser_token,
                                      origins=settings.browser_origins)
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1:{settings.browser_port} for the "
                              f"browser extension: {exc.strerror}",
                              hint="another program uses the port; change browser_port "
                                   "here and in the extension") from exc
        browser.start()
    sent_log = mydata = None
    if settings.my_data:
        from collector.mydata.sentlog import SentLog
        sent_log = SentLog(settings.spool_path.with_name("sent.db"), tz=settings.timezone,
                           keep_days=settings.sent_log_days)
    collector = Collector(settings, probe=probe, idle=idle, spool=spool, publisher=publisher,
                          urls=reports, away=session.away if session else None,
                          session=session.info() if session else None, sent_log=sent_log)
    control = ControlServer(settings.control_socket, collector.handle)
    control.start()
    if sent_log is not None:
        from collector.mydata.server import MyDataServer
        mydata = MyDataServer(collector, sent_log, settings.control_socket,
                              port=settings.my_data_port)
        mydata.start()
    tray = None
    if settings.tray:
        from collector.mydata.tray import Tray
        tray = Tray(collector, mydata.open_in_browser if mydata is not None else None)
        if not tray.start():
            tray = None
    stop = stop_on_signals()
    logger.info("collector started for %s@%s (tenant %s), spool %s, %d events waiting",
                settings.user, settings.host, settings.tenant, settings.spool_path, len(spool))
    def housekeeping() -> None:
        if after_start is not None:
            after_start()
        if settings.metrics_file is not None:
            write_atomically(settings.metrics_file, collector.metrics_text())
        if sent_log is not None:
            sent_log.prune(collector.now_ms())

    housekeeping()
    code = 0
    try:
        collector.run(stop, housekeeping=housekeeping, control_alive=control.alive)
    except ProbeLost as exc:
        logger.warning("%s; stopping (the spool keeps every unsent event)", exc)
        collector.shutdown()
        code = 0
    except ControlLost as exc:
        logger.error("%s", exc)
        collector.shutdown()
        code = 1
    finally:
        if browser is not None:
            browser.stop()
        if tray is not None:
            tray.stop()
        if mydata is not None:
            mydata.stop()
        control.stop()
        if session is not None:
            session.close()
        else:
            idle.stop()
            probe.close()
        spool.close()
        if sent_log is not None:
            sent_log.close()
    return code

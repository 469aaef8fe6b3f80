"""The kernel's shared pieces that replaced copies in the stages (issue 15)."""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

import pytest

from deskpulse.core.errors import StackNotRunning
from deskpulse.core.metrics import Metric, prometheus_text
from deskpulse.core.procs import add_process_options, stop_on_signals
from deskpulse.core.settings import RELIABLE_PRODUCER, KafkaSettings, Settings
from deskpulse.core.stackfile import StackInfo, kafka_or_stack


def test_prometheus_text_types_labels_and_escapes() -> None:
    text = prometheus_text([Metric("a_total", 3, "counter", {"host": 'p"c\\1\n'}),
                            Metric("b", 0.5)])
    assert text == ('# TYPE a_total counter\na_total{host="p\\"c\\\\1\\n"} 3\n'
                    "b 0.5\n")


def test_every_producer_is_reliable_and_the_deployment_settings_stay() -> None:
    kafka = KafkaSettings(bootstrap="b:1", extra={"security.protocol": "SSL"})
    conf = kafka.reliable_producer(**{"linger.ms": 5})
    assert conf == {"bootstrap.servers": "b:1", "security.protocol": "SSL", **RELIABLE_PRODUCER,
                    "linger.ms": 5}
    assert RELIABLE_PRODUCER == {"acks": "all", "enable.idempotence": True}


def test_stop_on_signals_turns_sigterm_and_sigint_into_a_flag() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            stop = stop_on_signals()
            os.kill(os.getpid(), sig)
            assert stop.wait(5), f"{sig!r} did not set the flag"
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])


def test_the_process_options_of_worker_and_sink() -> None:
    parser = add_process_options(argparse.ArgumentParser(), loglevel="warning")
    assert vars(parser.parse_args([])) == {"loglevel": "warning", "standalone": False}
    assert parser.parse_args(["--standalone", "--loglevel", "info"]).standalone


def _stack(tmp_path: Path) -> StackInfo:
    info = StackInfo(pid=os.getpid(), data_dir=str(tmp_path), broker="127.0.0.1:1",
                     store_url="", worker_url="", token="t", partitions=1,
                     started_at=time.time(), children={},
                     device_secret=str(tmp_path / "device-secret"))
    info.save()
    return info


def test_a_configured_broker_wins_over_the_running_stack(tmp_path: Path) -> None:
    _stack(tmp_path)
    kafka = KafkaSettings(bootstrap="kafka:9092")
    assert kafka_or_stack(Settings(data_dir=tmp_path, kafka=kafka)) is kafka


def test_without_a_broker_the_running_stack_is_used(tmp_path: Path) -> None:
    _stack(tmp_path)
    signed = kafka_or_stack(Settings(data_dir=tmp_path))
    assert signed.bootstrap == "127.0.0.1:1"
    assert signed.device_credential == tmp_path / "device-secret"
    collector = kafka_or_stack(Settings(data_dir=tmp_path), sign_as_stack=False)
    assert collector.bootstrap == "127.0.0.1:1" and collector.device_credential is None


def test_no_broker_and_no_stack_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackNotRunning, match="no embedded stack is running"):
        kafka_or_stack(Settings(data_dir=tmp_path))


def test_the_error_tree_drawn_in_the_errors_module_is_the_class_tree() -> None:
    import importlib
    import re

    from deskpulse.core import errors
    from deskpulse.core.errors import DeskpulseError

    modules = [importlib.import_module(m) for m in (
        "deskpulse.core.errors", "schemas.auth", "collector.probes", "collector.control")]
    classes = {c.__name__: c for m in modules for c in vars(m).values()
               if isinstance(c, type) and issubclass(c, DeskpulseError)}
    drawn: dict[str, str | None] = {}
    parents: list[str] = []
    for line in errors.__doc__.splitlines():
        m = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?(\w+Error|\w+Unavailable|\w+Lost|"
                     r"StackNotRunning|QueryRefused|ResultTooLarge)\s", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 + (1 if "──" in line else 0)
        parents[depth:] = [m.group(2)]
        drawn[m.group(2)] = parents[depth - 1] if depth else None
    assert set(drawn) == set(classes), "every class is drawn, and only those"
    for name, parent in drawn.items():
        assert (classes[name].__bases__[0].__name__ if parent else None) == \
            (parent if parent else None), name

"""The collector process stays lean: what its import path loads, and what it never loads.

Each check runs in a fresh interpreter (``sys.modules`` of this test process is shared
with every other test). See collector/lean.py and collector/kafkalib.py for the why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from schemas import auth

ROOT = Path(__file__).resolve().parents[2]

#: modules the collect path must not import (faces, other stages, heavy libraries)
NEVER = ("click", "deskpulse.cli", "faust", "clickhouse_connect", "chdb", "http.server",
         "asyncio", "msgspec", "ssl", "urllib.request",
         "confluent_kafka.serializing_producer", "confluent_kafka.admin", "pynput",
         # the two loopback HTTP endpoints need neither http.client nor email (collector.httpd)
         "http.client", "email", "socketserver", "mimetypes",
         # process names come from /proc on Linux (collector.probes.process)
         "psutil",
         # the X11 probe speaks the few requests it needs itself (collector.probes.xproto)
         "Xlib", "six",
         # no pickling log handlers (deskpulse.core.logs.RotatingFile)
         "logging.handlers", "pickle", "csv")
#: ... nor, on X11 and wlroots, child processes or argument parsing (deskpulse.core.procs
#: imports them where used; the GNOME and KDE probes do start gdbus/qdbus helpers)
NEVER_ON_X11_WLROOTS = ("subprocess", "argparse")

COLLECT_PATH = ("collector.main", "collector.run", "collector.publisher", "collector.config",
                "collector.probes.select", "collector.probes.x11", "collector.probes.gnome",
                "collector.probes.wlroots", "collector.session.lock", "collector.mydata.sentlog",
                "collector.mydata.server", "collector.mydata.tray", "collector.browser",
                "collector.probes.process", "collector.probes.kde",
                "deskpulse.core.logs", "deskpulse.core.stackfile", "deskpulse.core.devices")


def run_python(code: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=False)
    assert out.returncode == 0, out.stderr
    return orjson.loads(out.stdout.strip().splitlines()[-1])


def test_the_collect_path_imports_no_face_no_stage_and_no_heavy_library():
    loaded = run_python(
        "import sys, json\n"
        f"for name in {COLLECT_PATH!r}: __import__(name)\n"
        f"print(json.dumps([m for m in {NEVER!r} if sys.modules.get(m) is not None]))")
    assert loaded == []


def test_the_x11_and_wlroots_paths_start_no_process_and_parse_no_arguments():
    path = tuple(m for m in COLLECT_PATH if m not in ("collector.probes.gnome",
                                                      "collector.probes.kde"))
    loaded = run_python(
        "import sys, json\n"
        f"for name in {path!r}: __import__(name)\n"
        f"print(json.dumps([m for m in {NEVER_ON_X11_WLROOTS!r} if sys.modules.get(m)]))")
    assert loaded == []


def test_without_openssl_the_collector_signs_exactly_as_with_it():
    dkey, key, value = b"k" * 32, b"acme/alice", b'{"app":"Editor"}'
    got = run_python(
        "import sys, json\n"
        "from collector.lean import without_openssl\n"
        "blocked = without_openssl()\n"
        "import collector.run, collector.mydata.server, collector.browser\n"
        "from schemas import auth\n"
        f"sig = auth.signature({dkey!r}, {key!r}, {value!r}).decode()\n"
        "import hashlib, hmac, secrets\n"
        "print(json.dumps({'sig': sig, 'blocked': blocked, 'token': len(secrets.token_hex(8)),"
        " 'loaded': [m for m in ('_hashlib', '_ssl', 'ssl') if sys.modules.get(m)],"
        " 'libcrypto': 'libcrypto' in open('/proc/self/maps').read(),"
        " 'same': hmac.compare_digest(b'a', b'a') and not hmac.compare_digest(b'a', b'b')}))")
    assert got["sig"] == auth.signature(dkey, key, value).decode()  # this process: OpenSSL
    assert got["blocked"] == ["_hashlib", "_ssl", "ssl"] and got["loaded"] == []
    assert got["libcrypto"] is False and got["same"] is True and got["token"] == 16


def test_the_entry_point_blocks_openssl_before_anything_else(tmp_path):
    # no display: main() fails with a one-line error after the block is in place
    config = tmp_path / "config.toml"
    config.write_text(f'[collector]\nspool_path = "{tmp_path / "spool.db"}"\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys, collector.main\ncode = collector.main.main()\n"
         "print(code, sys.modules.get('_hashlib', 'absent'), sys.modules.get('ssl', 'absent'))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**env, "PYTHONPATH": str(ROOT), "DESKPULSE_CONFIG": str(config),
             "DESKPULSE_DATA_DIR": str(tmp_path), "DESKPULSE_BOOTSTRAP": "127.0.0.1:9",
             "XDG_RUNTIME_DIR": str(tmp_path)})
    code, hashlib_entry, ssl_entry = out.stdout.split()
    assert code != "0" and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("ProbeUnavailable: "), out.stderr
    assert (hashlib_entry, ssl_entry) == ("None", "None")


def test_the_lazy_kafka_package_still_serves_everything_else():
    got = run_python(
        "import sys, json\n"
        "from collector.kafkalib import cimpl\n"
        "c = cimpl()\n"
        "before = 'confluent_kafka.serializing_producer' in sys.modules\n"
        "from confluent_kafka import Consumer, KafkaError, Producer\n"
        "from confluent_kafka.admin import AdminClient\n"
        "import confluent_kafka\n"
        "print(json.dumps({'before': before, 'same': Consumer is c.Consumer and "
        "KafkaError is c.KafkaError and Producer is c.Producer, "
        "'all': 'SerializingProducer' in confluent_kafka.__all__, "
        "'after': 'confluent_kafka.serializing_producer' in sys.modules}))")
    assert got == {"before": False, "same": True, "all": True, "after": True}


def test_an_imported_kafka_package_is_used_as_it_is():
    got = run_python(
        "import json, confluent_kafka\n"
        "from collector.kafkalib import cimpl\n"
        "print(json.dumps(cimpl().Producer is confluent_kafka.Producer))")
    assert got is True


def test_the_validator_loads_on_first_use_only():
    got = run_python(
        "import sys, json\n"
        "import schemas, schemas.codec, schemas.topics\n"
        "before = 'msgspec' in sys.modules\n"
        "from schemas import Invalid, validate_event\n"
        "from schemas.validate import Invalid as I2\n"
        "print(json.dumps([before, Invalid is I2, 'msgspec' in sys.modules]))")
    assert got == [False, True, True]

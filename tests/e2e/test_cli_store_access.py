"""The query path and the admin path of a running embedded stack, through the `deskpulse` command.

Who holds the query token (in ``stack.json``) can read the store and nothing more; the
admin operations need the admin token (``admin.token``); neither token is on any
command line; everything in the data dir is private to the stack's user.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from deskpulse.core.errors import StackError
from deskpulse.core.procs import http_json
from deskpulse.core.stackfile import ADMIN_TOKEN_FILE, StackInfo
from deskpulse.ops.embedded import EmbeddedStack, secure_data_dir
from schemas import topics
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "deskpulse.cli"]
TENANT = "sec"


def deskpulse(*args: str, data_dir, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A stack started on a data dir that already existed with loose modes."""
    data_dir = tmp_path_factory.mktemp("loose")
    os.chmod(data_dir, 0o755)
    (data_dir / "policies.json").write_text("{}")
    os.chmod(data_dir / "policies.json", 0o644)
    (data_dir / "logs").mkdir(mode=0o755)
    os.chmod(data_dir / "logs", 0o755)
    stack = EmbeddedStack(data_dir, kafka_port=0, partitions=2)
    info = stack.start()
    try:
        yield info
    finally:
        stack.stop()


def store_events(info: StackInfo, user: str, count: int) -> None:
    now = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": info.broker})
    for i in range(count):
        producer.produce(topics.ACTIVITY, key=f"{TENANT}/{user}".encode(), value=orjson.dumps(
            {"schema": "deskpulse.activity.v1", "event_id": f"{user}-{i}", "tenant": TENANT,
             "host": f"{user}-pc", "user": user, "app": "code",
             "start_ms": now - 900_000 + i * 2000, "end_ms": now - 900_000 + i * 2000 + 1500}))
    assert producer.flush(30) == 0


def count(data_dir, sql: str) -> int:
    done = deskpulse("query", sql, "--format", "csv", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


def one_line_error(done: subprocess.CompletedProcess, kind: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{kind}: "), done.stderr
    return lines[0]


def test_query_reads_only_and_admin_operations_need_their_own_credential(running, tmp_path):
    data_dir = Path(running.data_dir)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    store_events(running, "gina", 5)
    store_events(running, "hal", 3)
    wait_for(lambda: count(data_dir, "SELECT count() FROM deskpulse.activity_spans "
                                     f"WHERE tenant = '{TENANT}'") == 8,
             timeout=120, what="the events stored")

    leak = deskpulse("query", f"SELECT * FROM file('{secret}', 'LineAsString')",
                     data_dir=data_dir)
    assert "TOP SECRET" not in leak.stdout + leak.stderr
    assert "file() is not run here" in one_line_error(leak, "QueryRefused")
    # a SET once persisted in the store owner's session and made forget verify against a
    # filtered table: refused now, and forget runs on its own handle anyway
    hide = ("SET additional_table_filters = {'deskpulse.spans_store': 'user != \\'gina\\'', "
            "'deskpulse.minutes_store': 'user != \\'gina\\''}")
    one_line_error(deskpulse("query", hide, data_dir=data_dir), "QueryRefused")
    for sql in ("SYSTEM SHUTDOWN", "ALTER TABLE deskpulse.spans_store DELETE WHERE 1",
                "INSERT INTO deskpulse.team_members_store (tenant, team, user) "
                "VALUES ('sec', 't', 'x')", "SELECT 1; SELECT 2"):
        one_line_error(deskpulse("query", sql, data_dir=data_dir), "QueryRefused")
    big = deskpulse("query", "SELECT number FROM numbers(100001)", data_dir=data_dir)
    assert one_line_error(big, "ResultTooLarge") == \
        "ResultTooLarge: result has more than 100,000 rows; add LIMIT or aggregate"
    odd = deskpulse("query", "SELECT unhex('ff41') AS x", "--format", "json", data_dir=data_dir)
    assert odd.returncode == 0 and orjson.loads(odd.stdout) == [{"x": "\ufffdA"}], odd.stderr
    assert count(data_dir, "SELECT count() FROM deskpulse.activity_spans "
                           f"WHERE tenant = '{TENANT}'") == 8, "the store still serves"

    # the query token opens no admin operation
    status, body = http_json(f"{running.store_url}/admin/forget", token=running.token,
                             body=orjson.dumps({"tenant": TENANT, "user": "gina"}))
    assert status == 401, body
    # without the admin credential the CLI says so in one line
    admin_file = data_dir / ADMIN_TOKEN_FILE
    admin_file.rename(data_dir / "moved.token")
    try:
        one_line_error(deskpulse("forget", "--user", "gina", "--yes", "--tenant", TENANT,
                                 data_dir=data_dir), "StackError")
    finally:
        (data_dir / "moved.token").rename(admin_file)
    forgot = deskpulse("forget", "--user", "gina", "--yes", "--tenant", TENANT,
                       data_dir=data_dir)
    assert forgot.returncode == 0 and "erased" in forgot.stdout, forgot.stderr
    assert count(data_dir, "SELECT count() FROM deskpulse.spans_store WHERE user = 'gina'") == 0
    assert count(data_dir, "SELECT count() FROM deskpulse.spans_store WHERE user = 'hal'") == 3

    added = deskpulse("team", "add", "--team", "ops", "--user", "hal", "--tenant", TENANT,
                      data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    listed = deskpulse("team", "list", "--tenant", TENANT, data_dir=data_dir)
    assert "ops" in listed.stdout and "hal" in listed.stdout


def test_no_secret_on_a_command_line_and_the_data_dir_is_private(running):
    data_dir = Path(running.data_dir)
    admin_token = (data_dir / ADMIN_TOKEN_FILE).read_text().strip()
    for name, pid in running.children.items():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert running.token.encode() not in cmdline, name
        assert admin_token.encode() not in cmdline, name
    assert mode(data_dir) == 0o700
    for name in ("stack.json", ADMIN_TOKEN_FILE, "policies.json", "stack.lock"):
        assert mode(data_dir / name) == 0o600, name
    assert mode(data_dir / "logs") == 0o700
    for log in (data_dir / "logs").iterdir():
        assert mode(log) == 0o600, log
    assert mode(data_dir / "store") & 0o077 == 0
    loose = [p for p in (data_dir / "store").rglob("*") if p.stat().st_mode & 0o077
             and not p.is_symlink()]
    assert not loose, f"readable by others in the store: {loose[:5]}"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a dir to another user needs root")
def test_a_data_dir_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 54321, 54321)
    with pytest.raises(StackError, match="belongs to uid 54321"):
        secure_data_dir(theirs)
    done = deskpulse("up", "--kafka-port", "0", data_dir=theirs, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("StackError: the data dir"), \
        done.stderr

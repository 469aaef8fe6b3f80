"""The `deskpulse` command end to end: up / status / query / simulate / report / stop."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import orjson
import pytest

from deskpulse.core.procs import pid_alive
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "deskpulse.cli"]


def deskpulse(*args: str, data_dir, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Up:
    """`deskpulse up` in the background, its output collected line by line."""

    def __init__(self, data_dir) -> None:
        self.proc = subprocess.Popen([*CLI, "up", "--data-dir", str(data_dir),
                                      "--kafka-port", "0", "--partitions", "2"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.data_dir = data_dir
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_line(self, needle: str, timeout: float) -> str:
        def found():
            while not self.lines.empty():
                self.seen.append(self.lines.get())
            return next((ln for ln in self.seen if needle in ln), None)
        try:
            return wait_for(found, timeout, f"'{needle}' from deskpulse up")
        except BaseException:
            logs = "".join(f"\n--- {p.name}:\n" + "\n".join(p.read_text(errors="replace")
                                                              .splitlines()[-25:])
                           for p in sorted((self.data_dir / "logs").glob("*.log")))
            print(f"deskpulse up said:\n{''.join(self.seen)}{logs}")
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture()
def up(tmp_path):
    running = Up(tmp_path)
    try:
        running.wait_line("ready", timeout=240)
        yield running
    finally:
        running.stop()


def test_up_status_query_simulate_report_and_clean_stop(up, tmp_path):
    info = orjson.loads((tmp_path / "stack.json").read_bytes())
    assert oct((tmp_path / "stack.json").stat().st_mode & 0o777) == "0o600"

    status = deskpulse("status", data_dir=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    assert [line.split()[:2] for line in status.stdout.splitlines()] == \
        [["broker", "ready"], ["worker", "ready"], ["sink", "ready"]]

    q = deskpulse("query", "SELECT 1 AS one, 'x' AS s", "--format", "json", data_dir=tmp_path)
    assert q.returncode == 0, q.stderr
    assert orjson.loads(q.stdout) == [{"one": 1, "s": "x"}]

    bad = deskpulse("query", "SELEC nonsense", data_dir=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.startswith("QueryError: ") and "Traceback" not in bad.stderr

    sim = deskpulse("simulate", "--collectors", "2", data_dir=tmp_path)
    assert sim.returncode == 0, sim.stderr
    published = int(sim.stdout.split("published ")[-1].split()[0])
    assert published > 100

    def stored():
        r = deskpulse("query", "SELECT count() FROM deskpulse.activity_spans", "--format", "csv",
                      data_dir=tmp_path)
        return int(r.stdout.splitlines()[1]) == published
    wait_for(stored, timeout=120, what="simulated spans in the store", interval=1)

    def rolled_up():  # the rollups travel apart from the spans: they count the same time
        r = deskpulse("query", "SELECT (SELECT sum(dateDiff('millisecond', start, end)) FROM "
                      "deskpulse.activity_spans) = (SELECT toInt64(round(sum(active_seconds + "
                      "idle_seconds) * 1000)) FROM deskpulse.activity_minutes)", "--format",
                      "csv", data_dir=tmp_path)
        return r.stdout.splitlines()[1:] == ["1"]
    wait_for(rolled_up, timeout=120, what="the minutes of every span", interval=1)

    report = deskpulse("report", data_dir=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Per person" in report.stdout
    assert "alice" in report.stdout and "bob" in report.stdout
    page = deskpulse("report", "--html", str(tmp_path / "report.html"), data_dir=tmp_path)
    assert page.returncode == 0, page.stderr
    assert "alice" in (tmp_path / "report.html").read_text()
    # the filters and the zone, through the command line
    alice = deskpulse("report", "--user", "alice", "--user", "nobody", "--timezone",
                      "Asia/Tokyo", data_dir=tmp_path)
    assert alice.returncode == 0, alice.stderr
    assert "alice" in alice.stdout and "bob" not in alice.stdout
    assert "Active hours by hour of day (Asia/Tokyo)" in alice.stdout
    old = deskpulse("report", "--from", "2001-01-01", "--to", "2001-01-07", data_dir=tmp_path)
    assert old.returncode == 0, old.stderr
    assert "2001-01-01 00:00 to 2001-01-07 23:59 (UTC)" in old.stdout
    assert "No activity recorded in this period." in old.stdout

    def count(sql: str) -> int:
        r = deskpulse("query", sql, "--format", "csv", data_dir=tmp_path)
        assert r.returncode == 0, r.stderr
        return int(r.stdout.splitlines()[1])

    asked = deskpulse("forget", "--user", "alice", data_dir=tmp_path)
    assert asked.returncode == 1 and "Aborted" in asked.stderr, "no confirmation, no erasure"
    assert count("SELECT count() FROM deskpulse.activity_spans WHERE user = 'alice'") > 0
    forgot = deskpulse("forget", "--user", "alice", "--yes", data_dir=tmp_path)
    assert forgot.returncode == 0, forgot.stderr
    assert "erased" in forgot.stdout
    for view in ("activity_spans", "activity_minutes", "activity_hourly", "activity_daily"):
        assert count(f"SELECT count() FROM deskpulse.{view} WHERE user = 'alice'") == 0, view
        assert count(f"SELECT count() FROM deskpulse.{view} WHERE user = 'bob'") > 0, view
    assert count("SELECT count() FROM deskpulse.erasure_audit") == 1

    migrated = deskpulse("db", "migrate", data_dir=tmp_path)
    assert migrated.returncode == 0 and "schema up to date" in migrated.stdout, migrated.stderr
    kept = deskpulse("db", "retention", "--set", "deadletter=7", data_dir=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "deadletter   7 days" in kept.stdout and "spans        90 days" in kept.stdout

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0
    for name, pid in info["children"].items():
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=10, what=f"{name} to exit")
    assert not (tmp_path / "stack.json").exists()
    after = deskpulse("status", data_dir=tmp_path)
    assert after.returncode == 3 and after.stderr.startswith("StackNotRunning:")


def test_children_do_not_outlive_a_killed_up(up, tmp_path):
    info = orjson.loads((tmp_path / "stack.json").read_bytes())
    assert all(pid_alive(pid) for pid in info["children"].values())
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(10)
    for name, pid in info["children"].items():
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=30, what=f"orphaned {name} to exit")
    # the stale stack file is recognised as such
    status = deskpulse("status", data_dir=tmp_path)
    assert status.returncode == 3 and "is not running" in status.stderr


def test_second_stack_on_the_same_data_dir_is_refused(up, tmp_path):
    second = subprocess.run([*CLI, "up", "--data-dir", str(tmp_path), "--kafka-port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "StackError: another deskpulse stack is running" in second.stderr


def test_demo_prints_a_report_writes_its_html_page_and_stops_by_itself(tmp_path):
    page = tmp_path / "demo" / "report.html"  # as `make run` asks for it (a new folder)
    demo = subprocess.run([*CLI, "demo", "--collectors", "3", "--html", str(page)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DESKPULSE_DATA_DIR": "",
                               "DESKPULSE_TIMEZONE": "Europe/Berlin"})
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    out = demo.stdout
    assert "Per person" in out and "Top applications" in out and "demo finished" in out
    for name in ("alice", "bob", "carol"):
        assert name in out
    assert "Active hours by hour of day (Europe/Berlin)" in out
    assert f"HTML report: {page}" in out.splitlines()
    html = page.read_text()
    assert 'id="people"' in html and 'class="key" data-series="idle"' in html
    assert "alice" in html and "(Europe/Berlin)" in html

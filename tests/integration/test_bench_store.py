"""The store bench (tests/bench/store.py) runs end to end at a small size.

It generates the data inside ClickHouse through the ingest tables, measures the old
schema and panels, migrates, measures the new ones and checks that every panel gives
the same answer before and after (and with the last day replayed). No time is asserted:
only that it runs, that the data has the intended shape and that the answers agree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from deskpulse.ops.boards.dashboards import TEAM_OVERVIEW
from tests.bench.store import SPANS_PER_DAY, working_days

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_working_days_skip_weekends():
    import datetime as dt
    days = working_days(6, dt.date(2026, 12, 2))  # a Wednesday
    assert days == [dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26),
                    dt.date(2026, 11, 27), dt.date(2026, 11, 30), dt.date(2026, 12, 1)]


def test_the_store_bench_runs_small_and_every_panel_agrees(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "tests.bench.store", "--people", "4",
                           "--days", "3", "--json", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = orjson.loads(out.read_text())
    assert r["mismatched"] == []
    assert r["spans"] == 4 * 3 * SPANS_PER_DAY
    assert 1.4 < r["minute_rows"] / r["spans"] < 1.9, "37-39 s spans: most cross a minute"
    titles = {p.title for p in TEAM_OVERVIEW.panels}
    for phase in ("before", "after", "dirty"):
        assert set(r[phase]) == titles, phase
        assert all(p["rows_read"] > 0 for p in r[phase].values()), phase
    assert r["report_people"] == 4
    assert {"spans_store", "minutes_store", "hours_store", "days_store"} <= set(
        r["storage_before"])
    assert {"spans_store", "minutes_store", "hours_agg", "days_agg"} <= set(r["storage_after"])
    assert "hours_store" not in r["storage_after"]
    assert 1 <= r["dirty_hours"] <= 2, "the last hour of work, written again"


def test_the_report_only_bench_keeps_its_store_and_reuses_it(tmp_path):
    store = tmp_path / "store"

    def run(people: int, name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tests.bench.store", "--people",
                               str(people), "--days", "2", "--report-only", "--data-dir",
                               str(store), "--json", str(tmp_path / name)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)

    first = run(3, "a.json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "generated" in first.stdout
    again = run(3, "b.json")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "generated" not in again.stdout, "the kept store is reused"
    for name in ("a.json", "b.json"):
        r = orjson.loads((tmp_path / name).read_text())
        assert r["same_answers"] and r["report_people"] == 3 and r["dirty_hours"] >= 1
        assert len(r["report_dirty_queries"]) == 5
        assert all(q["rows_read"] > 0 for q in r["report_dirty_queries"][:4])
    other = run(4, "c.json")
    assert other.returncode != 0 and "not 4 people" in other.stderr

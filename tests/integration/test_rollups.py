"""The hour and day aggregates (migration 0007, sinks/rollup.py) stay exact.

On chDB, through the sink's real ingest path (JSONEachRow into ``rollups_in`` with the
sink's insert settings): the same records written again in other batches (other dedup
tokens, as after a replay from offset 0 with other batch boundaries), duplicates inside
one insert, a refresh that dies halfway, a relabelling and an erasure. Every total of
``activity_hourly``, ``activity_daily`` and ``people`` equals the distinct events' total,
before and after each refresh, and the aggregates alone equal it once nothing is dirty.

The conversion of a store written by the old schema (migrations 0001-0006) runs in a
process of its own (one chDB engine per process).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from sinks import migrate, rollup
from sinks.erase import forget
from sinks.writer import ClickHouseWriter, ClientStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAY0 = 1_795_000_000 - 1_795_000_000 % 86400  # an epoch second at 00:00 UTC


def records(tenant: str, people: int = 3, per_person: int = 12) -> list[dict]:
    """Rollup records over two UTC days, some spans crossing an hour and midnight."""
    out = []
    for p in range(people):
        for i in range(per_person):
            start = DAY0 + 86400 - 1800 + i * 1500 + p * 60 + 17  # 23:30 day 0 onwards
            seconds = 600 + 97 * i
            minutes, t, end = [], start, start + seconds
            while t < end:
                nxt = min(end, t - t % 60 + 60)
                minutes.append([t - t % 60, (nxt - t) * 1000])
                t = nxt
            out.append({"event_id": f"e{p}-{i}", "tenant": tenant, "user": f"user{p}",
                        "host": f"pc{p}", "app": "code" if i % 3 else "firefox",
                        "domain": "" if i % 3 else "github.com", "idle": i % 5 == 4,
                        "category": "development", "productivity": "productive",
                        "minutes": minutes})
    return out


def write(chdb, recs: list[dict], token: str) -> None:
    body = b"[" + b",".join(orjson.dumps(r) for r in recs) + b"]"
    ClickHouseWriter(chdb).write("deskpulse.rollups_in", body, token)


def expected(recs: list[dict]) -> dict[str, tuple[int, int]]:
    """user -> (active ms, idle ms) of the distinct events."""
    seen, out = set(), {}
    for r in recs:
        if (r["user"], r["host"], r["event_id"]) in seen:
            continue
        seen.add((r["user"], r["host"], r["event_id"]))
        ms = sum(m[1] for m in r["minutes"])
        a, i = out.get(r["user"], (0, 0))
        out[r["user"]] = (a, i + ms) if r["idle"] else (a + ms, i)
    return out


def totals(chdb, source: str, tenant: str) -> dict[str, tuple[int, int]]:
    if source in ("hours_agg", "days_agg"):
        cols = "sum(active_ms), sum(idle_ms)"
    else:
        cols = ("toInt64(round(sum(active_seconds) * 1000)), "
                "toInt64(round(sum(idle_seconds) * 1000))")
    rows = chdb.query(f"SELECT user, {cols} FROM deskpulse.{source} WHERE tenant = '{tenant}' "
                      "GROUP BY user").result_rows
    return {u: (int(a), int(i)) for u, a, i in rows}


def check_views(chdb, tenant: str, want: dict) -> None:
    for view in ("activity_minutes", "activity_hourly", "activity_daily"):
        assert totals(chdb, view, tenant) == want, view
    people = chdb.query("SELECT user, active_hours FROM deskpulse.people "
                        f"WHERE tenant = '{tenant}'").result_rows
    assert {u: round(h * 3_600_000) for u, h in people} == {u: a for u, (a, _) in want.items()}


def dirty(chdb, tenant: str) -> int:
    return chdb.query("SELECT count() FROM deskpulse.rollup_dirty "
                      f"WHERE tenant = '{tenant}'").result_rows[0][0]


def test_replays_in_other_batches_and_duplicates_never_count_twice(chdb):
    tenant = "t-replay"
    recs = records(tenant)
    want = expected(recs)
    store = ClientStore(chdb)
    write(chdb, recs, "first")
    check_views(chdb, tenant, want)  # nothing refreshed yet: read from the minutes
    assert dirty(chdb, tenant) > 0
    rollup.refresh(store)
    assert dirty(chdb, tenant) == 0
    check_views(chdb, tenant, want)
    for table in ("hours_agg", "days_agg"):
        assert totals(chdb, table, tenant) == want, table
    # a replay from offset 0 with other batch boundaries: other tokens, every record again,
    # plus a duplicate inside one insert
    write(chdb, recs[:7] + recs[3:4], "replay-a")
    write(chdb, recs[7:], "replay-b")
    assert dirty(chdb, tenant) > 0, "a replay marks its hours again"
    check_views(chdb, tenant, want)
    rollup.refresh(store)
    check_views(chdb, tenant, want)
    for table in ("hours_agg", "days_agg"):
        assert totals(chdb, table, tenant) == want, table
    # no GROUP BY needed: one aggregate row per key and hour / day
    assert chdb.query("SELECT count() FROM (SELECT 1 FROM deskpulse.hours_agg WHERE tenant = "
                      f"'{tenant}' GROUP BY user, host, app, domain, category, productivity, "
                      "hour HAVING count() > 1)").result_rows[0][0] == 0


def test_a_refresh_that_dies_halfway_changes_no_total(chdb):
    tenant = "t-crash"
    recs = records(tenant)
    # the same events again, and new ones at the same times (on both days)
    more = recs + [dict(r, event_id=r["event_id"] + "-new") for r in recs[::2]]
    want = expected(more)
    store = ClientStore(chdb)
    write(chdb, recs, "crash-1")
    rollup.refresh(store)
    write(chdb, more, "crash-2")  # replayed and new: dirty again

    class DiesAtSecondSwap:
        def __init__(self) -> None:
            self.swaps = 0

        def query(self, sql: str):
            return store.query(sql)

        def command(self, sql: str) -> None:
            if "REPLACE PARTITION" in sql or "DROP PARTITION" in sql:
                self.swaps += 1
                if self.swaps == 2:  # hours swapped in, the day row not: then killed
                    raise RuntimeError("killed")
            store.command(sql)

    with pytest.raises(RuntimeError):
        rollup.refresh(DiesAtSecondSwap())
    assert dirty(chdb, tenant) > 0, "the day's refresh was not recorded"
    check_views(chdb, tenant, want)
    assert not chdb.query("SELECT name FROM system.tables WHERE database = 'deskpulse' AND "
                          "name LIKE 'rollup_scratch%'").result_rows, "scratch tables dropped"
    rollup.refresh(store)
    assert dirty(chdb, tenant) == 0
    check_views(chdb, tenant, want)
    for table in ("hours_agg", "days_agg"):
        assert totals(chdb, table, tenant) == want, table


def test_forget_and_relabel_keep_the_aggregates_exact(chdb):
    tenant = "t-forget-agg"
    recs = records(tenant)
    store = ClientStore(chdb)
    write(chdb, recs, "forget-1")
    rollup.refresh(store)
    removed = forget(store, tenant, "user1")
    assert removed["hours_agg"] > 0 and removed["days_agg"] > 0
    want = {u: v for u, v in expected(recs).items() if u != "user1"}
    check_views(chdb, tenant, want)
    # the person's hours are rewritten without them at the next refresh too
    rollup.mark_all(store, tenant)
    rollup.refresh(store)
    check_views(chdb, tenant, want)
    assert totals(chdb, "days_agg", tenant) == want
    # a relabel of minutes outside rollups_in: marked, refreshed, labels move, totals do not
    chdb.command("INSERT INTO deskpulse.minutes_store SELECT tenant, user, host, app, domain, "
                 "minute, event_key, active_ms, idle_ms, 'games', 'unproductive' "
                 f"FROM deskpulse.minutes_store FINAL WHERE tenant = '{tenant}' "
                 "AND user = 'user0' SETTINGS insert_deduplicate = 0")
    rollup.mark_all(store, tenant)
    rollup.refresh(store)
    check_views(chdb, tenant, want)
    labels = chdb.query("SELECT DISTINCT productivity FROM deskpulse.days_agg "
                        f"WHERE tenant = '{tenant}' AND user = 'user0'").result_rows
    assert labels == [("unproductive",)]


def test_a_scalar_subquery_is_read_once_per_query_across_union_branches(chdb):
    """The engine fact the views rely on: one dirty set per query (two IN sets may differ)."""
    chdb.command("CREATE OR REPLACE VIEW deskpulse.test_coin AS SELECT toUInt64(rand() % 2) AS x")
    chdb.command("CREATE OR REPLACE VIEW deskpulse.test_sides AS "
                 "SELECT 1 FROM numbers(1) WHERE 1 IN (SELECT arrayJoin((SELECT groupArray(x) "
                 "FROM deskpulse.test_coin))) UNION ALL SELECT 1 FROM numbers(1) WHERE 1 NOT IN "
                 "(SELECT arrayJoin((SELECT groupArray(x) FROM deskpulse.test_coin)))")
    try:
        counts = {chdb.query("SELECT count() FROM deskpulse.test_sides").result_rows[0][0]
                  for _ in range(40)}
        assert counts == {1}, "each query puts the coin on exactly one side"
    finally:
        chdb.command("DROP VIEW IF EXISTS deskpulse.test_sides")
        chdb.command("DROP VIEW IF EXISTS deskpulse.test_coin")


CONVERT = textwrap.dedent("""
    import sys, orjson
    from sinks import migrate, retention, rollup
    from sinks.writer import ClickHouseWriter, ClientStore, connect
    from tests.integration.test_rollups import records
    client = connect("chdb://" + sys.argv[1])
    store = ClientStore(client)
    migrate.applied_versions(store)
    for m in migrate.load_migrations():  # the store as the old schema left it
        if m.version < 7:
            for statement in m.statements():
                store.command(statement)
            store.command("INSERT INTO deskpulse.schema_migrations (version, name, checksum) "
                          f"VALUES ({m.version}, '{m.name}', '{m.checksum}')")
    recs = records("acme", people=4)
    def write(rs, token):
        body = b"[" + b",".join(orjson.dumps(r) for r in rs) + b"]"
        ClickHouseWriter(client).write("deskpulse.rollups_in", body, token)
    write(recs, "old-1")
    write(recs[5:], "old-2")  # replayed under the old schema: collapses there
    store.command("ALTER TABLE deskpulse.hours_store MODIFY TTL hour + INTERVAL 400 DAY")
    def rows(sql):
        return sorted([str(c) for c in r] for r in store.query(sql)[1])
    grain = "tenant, user, host, app, domain, category, productivity"
    q = {
        "hourly": f"SELECT {grain}, hour, round(sum(active_seconds), 3), "
                  "round(sum(idle_seconds), 3) FROM deskpulse.activity_hourly "
                  f"GROUP BY {grain}, hour",
        "daily": f"SELECT {grain}, day, round(sum(active_seconds), 3), "
                 "round(sum(idle_seconds), 3) FROM deskpulse.activity_daily "
                 f"GROUP BY {grain}, day",
        "people": "SELECT tenant, user, arraySort(hosts), first_day, last_day, "
                  "round(active_hours, 6) FROM deskpulse.people",
        "minutes": f"SELECT {grain}, minute, active_seconds, idle_seconds "
                   "FROM deskpulse.activity_minutes",
    }
    before = {k: rows(v) for k, v in q.items()}
    applied = [m.version for m in migrate.apply(store)]
    after = {k: rows(v) for k, v in q.items()}
    dirty = rows("SELECT * FROM deskpulse.rollup_dirty")
    write(recs, "new-replay")  # everything again after the upgrade, another token
    rollup.refresh(store)
    again = {k: rows(v) for k, v in q.items()}
    print(orjson.dumps({
        "applied": applied, "before": before, "after": after, "again": again, "dirty": dirty,
        "agg_hours": rows("SELECT count() FROM deskpulse.hours_agg"),
        "retention": retention.current(store),
        "tables": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' AND "
                       "name IN ('hours_store', 'days_store', 'minutes_rekey_catchup', "
                       "'rollup_conversion')"),
        "key": rows("SELECT sorting_key FROM system.tables WHERE database = 'deskpulse' "
                    "AND name = 'minutes_store'"),
    }).decode())
""")


def test_migration_converts_old_rollups_with_the_same_totals(tmp_path):
    out = subprocess.run([sys.executable, "-c", CONVERT, str(tmp_path / "store")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = orjson.loads(out.stdout.strip().splitlines()[-1])
    # 0007 and every later migration (0008 on: each its own test)
    assert r["applied"] == [m.version for m in migrate.load_migrations() if m.version >= 7]
    assert r["before"]["hourly"] and r["before"]["daily"] and r["before"]["people"]
    for name in ("hourly", "daily", "people", "minutes"):
        assert r["after"][name] == r["before"][name], name
        assert r["again"][name] == r["before"][name], name
    assert r["dirty"] == [], "converted days are clean: the views read the aggregates"
    assert int(r["agg_hours"][0][0]) > 0
    assert r["retention"]["hours"] == 400, "the old table's retention moves to the new one"
    assert r["retention"]["days"] == 730
    assert r["tables"] == [], "old per-event tables and scratch tables gone"
    # (0010 keys the minute rows by a hash of the event_id, sorted by app within the hour)
    assert r["key"] == [["tenant, toStartOfHour(minute), user, host, app, domain, minute, "
                         "event_key"]]

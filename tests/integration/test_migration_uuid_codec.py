"""Migration 0013 on a store that holds data: spans_store's event_uuid is stored with
ZSTD(3), every row and the sorting key stay as they were, and the ids the collectors make
(collector/spans.py, ``event_id``: a run id and a sequence number) then cost about a byte a
span where random UUIDs cost 16 (chDB, in a process of its own: one engine per process)."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers.migrations import run_in_store, store_before

pytestmark = pytest.mark.integration

SCRIPT = store_before(13) + textwrap.dedent("""
    from collector.spans import event_id, new_run_id
    now = (int(time.time()) - 7200) * 1000
    # 40 people, 500 spans each: as a collector run numbers them, in the three forms the
    # contract allows (collector ids, random UUIDs written with dashes, other text)
    runs = [new_run_id() for _ in range(40)]
    ids = [event_id(runs[n % 40], 1000 + n // 40) for n in range(20000)]
    def insert(id_sql, first, n=20000):
        store.command(
            "INSERT INTO deskpulse.spans_in (event_id, tenant, user, host, app, exe, title, "
            "url, domain, start_ms, end_ms, idle, category, productivity) "
            f"SELECT {id_sql}, 'acme', concat('user', toString(number % 40)), "
            "concat('pc-', toString(number % 40)), ['code', 'firefox', 'slack'][number % 3 + 1], "
            "'/usr/bin/code', concat('window ', toString(number % 50)), '', '', "
            f"{now} + intDiv(number, 40) * 38250, {now} + intDiv(number, 40) * 38250 + 36000 "
            f"+ number % 997, number % 7 = 0, 'work', 'productive' FROM numbers({first}, {n}) "
            "SETTINGS insert_deduplicate = 0")
    def insert_ids():  # in pieces: a query's text is at most 256 KiB
        for first in range(0, 20000, 2000):
            ids_sql = "[" + ",".join(f"'{i}'" for i in ids[first:first + 2000]) + "]"
            insert(f"{ids_sql}[number - {first} + 1]", first, 2000)
    insert_ids()
    insert("toString(generateUUIDv4(number))", 20000)
    insert("concat('text-id-', toString(number))", 40000)
    cols = ("event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle, "
            "written_at, category, productivity")
    def uuid_bytes():
        store.command("OPTIMIZE TABLE deskpulse.spans_store FINAL")
        return int(rows("SELECT data_compressed_bytes FROM system.columns WHERE "
                        "database = 'deskpulse' AND table = 'spans_store' "
                        "AND name = 'event_uuid'")[0][0])
    def key():
        return rows("SELECT sorting_key FROM system.tables WHERE database = 'deskpulse' "
                    "AND name = 'spans_store'")[0][0]
    store.command(retention.statement("spans", 30))
    # wide parts: the engine counts each column's bytes only there
    store.command("ALTER TABLE deskpulse.spans_store MODIFY SETTING min_bytes_for_wide_part = 0")
    before = rows(f"SELECT {cols} FROM deskpulse.spans_store FINAL ORDER BY event_id")
    key_before, lz4 = key(), uuid_bytes()
    applied = [m.version for m in migrate.apply(store, until=13)]
    after = rows(f"SELECT {cols} FROM deskpulse.spans_store FINAL ORDER BY event_id")
    zstd_all = uuid_bytes()
    # the collector ids alone: the same 20,000 spans written again collapse (same rows)
    insert_ids()
    again_count = rows("SELECT count() FROM deskpulse.spans_store FINAL")[0][0]
    store.command("ALTER TABLE deskpulse.spans_store DELETE WHERE event_id_form != 2 "
                  "SETTINGS mutations_sync = 2")
    collector_only = uuid_bytes()
    print(orjson.dumps({
        "applied": applied, "same": before == after, "count": len(after),
        "forms": rows("SELECT event_id_form, count() FROM deskpulse.spans_store "
                      "GROUP BY 1 ORDER BY 1"),
        "ids_back": sorted(r[0] for r in rows(
            "SELECT event_id FROM deskpulse.activity_spans")) == sorted(ids),
        "again_count": again_count, "lz4": lz4, "zstd_all": zstd_all,
        "collector_only": collector_only,
        "codec": rows("SELECT compression_codec FROM system.columns WHERE database = "
                      "'deskpulse' AND table = 'spans_store' AND name = 'event_uuid'")[0][0],
        "key_same": key() == key_before, "retention": retention.current(store)["spans"],
        "again": [m.version for m in migrate.apply(store, until=13)],
    }, default=str).decode())
""")


def test_event_uuid_is_stored_with_zstd_and_collector_ids_cost_about_a_byte(tmp_path):
    result = run_in_store(SCRIPT, tmp_path / "store", timeout=300)
    assert 13 in result["applied"] and result["again"] == []
    assert result["same"] and result["count"] == 60000, "every row, every column, as it was"
    assert result["codec"] == "CODEC(ZSTD(3))"
    assert result["key_same"], "the same rows collapse"
    assert result["again_count"] == 60000, "a replay of the collector ids collapses"
    assert result["forms"] == [[2, 20000]] and result["ids_back"], \
        "the collector ids are stored as UUIDs (form 2) and read back exactly"
    assert result["retention"] == 30, "the retention set before the upgrade is kept"
    # 16 bytes per span is what a random UUID costs; the collector ids: under 2
    assert 0 < result["collector_only"] < 2 * 20000, result
    assert 0 < result["zstd_all"] < result["lz4"], result

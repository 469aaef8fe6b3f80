"""Migration 0009 on a store that holds data: spans_store is rebuilt with its columns'
codecs (ZSTD on event_id and the texts, DoubleDelta/Delta on the times), keeps every row
and column, its sorting key and its retention, and takes fewer bytes for the same rows
(chDB, in a process of its own: one engine per process)."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers.migrations import run_in_store, store_before

pytestmark = pytest.mark.integration


SCRIPT = store_before(9) + textwrap.dedent("""
    now = (int(time.time()) - 7200) * 1000
    # 20,000 spans of 40 people, UUID event ids, as the collectors write them
    store.command(
        "INSERT INTO deskpulse.spans_in (event_id, tenant, user, host, app, exe, title, url, "
        "domain, start_ms, end_ms, idle, category, productivity) "
        "SELECT toString(generateUUIDv4(number)), 'acme', concat('user', toString(number % 40)), "
        "concat('pc-', toString(number % 40)), ['code', 'firefox', 'slack'][number % 3 + 1], "
        "'/usr/bin/code', concat('window ', toString(number % 50)), "
        "if(number % 3 = 1, concat('https://site', toString(number % 30), '.example.com/'), ''), "
        f"if(number % 3 = 1, concat('site', toString(number % 30), '.example.com'), ''), "
        f"{now} + intDiv(number, 40) * 38250, {now} + intDiv(number, 40) * 38250 + 36000 "
        "+ number % 997, number % 7 = 0, 'work', 'productive' FROM numbers(20000) "
        "SETTINGS insert_deduplicate = 0")
    store.command(retention.statement("spans", 30))
    def size():
        store.command("OPTIMIZE TABLE deskpulse.spans_store FINAL")
        return int(rows("SELECT sum(data_compressed_bytes) FROM system.parts WHERE active "
                        "AND database = 'deskpulse' AND table = 'spans_store'")[0][0])
    cols = ("event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle, "
            "written_at, category, productivity")
    before = rows(f"SELECT {cols} FROM deskpulse.spans_store FINAL ORDER BY event_id")
    view_before = rows("SELECT name, type FROM system.columns WHERE database = 'deskpulse' "
                       "AND table = 'activity_spans' ORDER BY position")
    size_before = size()
    applied = [m.version for m in migrate.apply(store, until=9)]
    after = rows(f"SELECT {cols} FROM deskpulse.spans_store FINAL ORDER BY event_id")
    print(orjson.dumps({
        "applied": applied, "same": before == after, "count": len(after),
        "size_before": size_before, "size_after": size(),
        "codecs": dict(rows("SELECT name, compression_codec FROM system.columns "
                            "WHERE database = 'deskpulse' AND table = 'spans_store'")),
        "key": rows("SELECT sorting_key FROM system.tables WHERE database = 'deskpulse' "
                    "AND name = 'spans_store'")[0][0],
        "view_same": view_before == rows(
            "SELECT name, type FROM system.columns WHERE database = 'deskpulse' "
            "AND table = 'activity_spans' ORDER BY position"),
        "retention": retention.current(store)["spans"],
        "leftovers": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                          "AND name LIKE '%catchup%'"),
        "again": [m.version for m in migrate.apply(store, until=9)],
    }, default=str).decode())
""")


def test_spans_are_rebuilt_with_codecs_and_keep_every_row_in_fewer_bytes(tmp_path):
    result = run_in_store(SCRIPT, tmp_path / "store", timeout=300)
    assert 9 in result["applied"] and result["again"] == []
    assert result["same"] and result["count"] == 20000, "every row, every column, as it was"
    assert result["codecs"]["event_id"] == "CODEC(ZSTD(3))"
    assert result["codecs"]["title"] == "CODEC(ZSTD(3))"
    assert result["codecs"]["start"] == "CODEC(DoubleDelta, ZSTD(1))"
    assert result["key"] == "tenant, user, start, host, event_id", "the same rows collapse"
    assert result["view_same"], "the analyst view keeps its columns and types"
    assert result["retention"] == 30, "the retention set before the upgrade is kept"
    assert result["leftovers"] == []
    assert result["size_after"] < 0.75 * result["size_before"], result

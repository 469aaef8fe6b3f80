"""Migration 0010 on a store that holds data: spans_store keeps each event_id as a UUID's 16
bytes (or as text when it is no UUID) behind an ``event_id`` column that gives it back as
it came, minutes_store keys the minute rows by a 64-bit hash of the id. Every row and
column survives, the analyst views answer the same, retention is kept, a replay after the
upgrade still collapses, and both tables take fewer bytes (chDB, in a process of its own:
one engine per process)."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers.migrations import run_in_store, store_before

pytestmark = pytest.mark.integration


SCRIPT = store_before(10) + textwrap.dedent("""
    from sinks import rollup
    now = (int(time.time()) - 3 * 86400) // 3600 * 3600 * 1000
    # 20,000 events of 40 people (the same ids in both inserts): ids as the collectors write
    # them (32 hex digits), as ClickHouse writes a UUID (36), and ids that are no such UUID
    # (upper case, braces, text)
    UID = "toString(reinterpretAsUUID(MD5(toString(number))))"
    ID = (f"multiIf(number % 4 = 0, replaceAll({UID}, '-', ''), number % 4 = 1, {UID}, "
          f"number % 8 = 2, upper({UID}), number % 8 = 3, concat('{{', {UID}, '}}'), "
          "concat('evt-', toString(number)))")
    COMMON = ("'acme' AS tenant, concat('user', toString(number % 40)) AS user, "
              "concat('pc-', toString(number % 40)) AS host, "
              "['code', 'firefox', 'slack'][number % 3 + 1] AS app, "
              "if(number % 3 = 1, concat('site', toString(number % 30), '.example.com'), '') "
              "AS domain, number % 7 = 0 AS idle, 'work' AS category, "
              f"'productive' AS productivity, {now} + intDiv(number, 40) * 38250 AS s, "
              "s + 36000 + number % 997 AS e")
    SPANS = ("INSERT INTO deskpulse.spans_in (event_id, tenant, user, host, app, exe, title, "
             "url, domain, start_ms, end_ms, idle, category, productivity) "
             f"SELECT {ID} AS event_id, tenant, user, host, app, '/usr/bin/code', "
             "concat('window ', toString(number % 50)), if(domain = '', '', "
             "concat('https://', domain, '/')), domain, s, e, idle, category, productivity "
             f"FROM (SELECT number, {COMMON} FROM numbers(20000)) "
             "SETTINGS insert_deduplicate = 0")
    ROLLUPS = ("INSERT INTO deskpulse.rollups_in (event_id, tenant, user, host, app, domain, "
               "idle, category, productivity, minutes) "
               f"SELECT {ID} AS event_id, tenant, user, host, app, domain, idle, category, "
               "productivity, if(m1 = m2, [(toUInt32(m1 * 60), toUInt32(e - s))], "
               "[(toUInt32(m1 * 60), toUInt32((m1 + 1) * 60000 - s)), "
               "(toUInt32(m2 * 60), toUInt32(e - m2 * 60000))]) "
               f"FROM (SELECT number, {COMMON}, intDiv(s, 60000) AS m1, "
               "intDiv(e - 1, 60000) AS m2 FROM numbers(20000)) "
               "SETTINGS insert_deduplicate = 0")
    store.command(SPANS)
    store.command(ROLLUPS)
    rollup.refresh(store)
    store.command(retention.statement("spans", 30))
    store.command(retention.statement("minutes", 400))
    def size(table):
        store.command(f"OPTIMIZE TABLE deskpulse.{table} FINAL")
        return int(rows("SELECT sum(bytes_on_disk) FROM system.parts WHERE active "
                        f"AND database = 'deskpulse' AND table = '{table}'")[0][0])
    def view_columns():
        return rows("SELECT table, name, type FROM system.columns WHERE database = 'deskpulse' "
                    "AND table LIKE 'activity_%' ORDER BY table, position")
    SPAN_COLS = ("event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle, "
                 "written_at, category, productivity")
    def spans():
        return rows(f"SELECT {SPAN_COLS} FROM deskpulse.spans_store FINAL "
                    "ORDER BY event_id, start")
    def views():
        return [rows(f"SELECT * FROM deskpulse.{v} ORDER BY ALL") for v in
                ("activity_spans", "activity_minutes", "activity_hourly", "activity_daily",
                 "people")]
    MINUTE_COLS = ("tenant, user, host, app, domain, minute, active_ms, idle_ms, category, "
                   "productivity")
    spans_before, views_before, columns_before = spans(), views(), view_columns()
    minutes_before = rows(f"SELECT {MINUTE_COLS}, sipHash64(event_id) FROM "
                          "deskpulse.minutes_store FINAL ORDER BY ALL")
    sizes_before = {t: size(t) for t in ("spans_store", "minutes_store")}
    applied = [m.version for m in migrate.apply(store)]
    minutes_after = rows(f"SELECT {MINUTE_COLS}, event_key FROM deskpulse.minutes_store FINAL "
                         "ORDER BY ALL")
    result = {
        "applied": applied, "spans_same": spans_before == spans(),
        "spans": len(spans_before), "minutes_same": minutes_before == minutes_after,
        "minutes": len(minutes_after), "views_same": views_before == views(),
        "columns_same": columns_before == view_columns(),
        "forms": dict(rows("SELECT toString(event_id_form), count() FROM deskpulse.spans_store "
                           "GROUP BY event_id_form")),
        "sizes_before": sizes_before,
        "sizes_after": {t: size(t) for t in ("spans_store", "minutes_store")},
        "keys": dict(rows("SELECT name, sorting_key FROM system.tables WHERE database = "
                          "'deskpulse' AND name IN ('spans_store', 'minutes_store')")),
        "retention": [retention.current(store)[n] for n in ("spans", "minutes")],
        "leftovers": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                          "AND name LIKE '%catchup%'"),
        "old_views": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                          "AND name IN ('spans_v4_mv', 'minutes_v4_mv')"),
        "again": [m.version for m in migrate.apply(store)],
    }
    # the sink writes the same records again after the upgrade (a replay): they collapse
    store.command(SPANS)
    store.command(ROLLUPS)
    rollup.refresh(store)
    result["replay_same"] = views_before == views()
    result["replay_rows"] = [rows("SELECT count() FROM deskpulse.spans_store FINAL")[0][0],
                             rows("SELECT count() FROM deskpulse.minutes_store FINAL")[0][0]]
    # one UUID written both ways, and the zero UUID: three ids, three events, each as it came
    ids = ["0123456789abcdef0123456789abcdef", "01234567-89ab-cdef-0123-456789abcdef",
           "00000000-0000-0000-0000-000000000000"]
    for i in ids + ids:  # twice: collapses
        store.command("INSERT INTO deskpulse.spans_in (event_id, tenant, user, host, app, exe, "
                      "title, url, domain, start_ms, end_ms, idle) SETTINGS insert_deduplicate = 0 "
                      f"VALUES ('{i}', 'acme', 'same', 'pc', 'code', '', 't', '', '', {now}, "
                      f"{now + 1000}, 0)")
    result["same_uuid"] = rows("SELECT event_id FROM deskpulse.activity_spans "
                               "WHERE user = 'same' ORDER BY event_id")
    print(orjson.dumps(result, default=str).decode())
""")


def test_event_ids_are_stored_compactly_and_every_row_and_answer_stays(tmp_path):
    result = run_in_store(SCRIPT, tmp_path / "store", timeout=400)
    assert 10 in result["applied"] and result["again"] == []
    assert result["spans_same"] and result["spans"] == 20000, "every span, every column"
    assert result["minutes_same"] and result["minutes"] > 20000, "every minute row, keyed by hash"
    # 32 hex digits (form 2), ClickHouse's UUID text (form 1), the rest kept as text (0)
    assert result["forms"] == {"2": 5000, "1": 5000, "0": 10000}
    assert result["views_same"], "the analyst views answer the same"
    assert result["columns_same"], "the analyst views keep their columns and types"
    assert result["keys"] == {
        "spans_store": "tenant, user, app, start, host, event_uuid, event_id_form, "
                       "event_id_text",
        "minutes_store": "tenant, toStartOfHour(minute), user, host, app, domain, minute, "
                         "event_key"}
    assert result["retention"] == [30, 400], "the retention set before the upgrade is kept"
    assert result["leftovers"] == [] and result["old_views"] == []
    assert result["replay_same"], "a replay after the upgrade collapses"
    assert result["replay_rows"] == [20000, result["minutes"]]
    assert result["same_uuid"] == [["00000000-0000-0000-0000-000000000000"],
                                   ["01234567-89ab-cdef-0123-456789abcdef"],
                                   ["0123456789abcdef0123456789abcdef"]]
    before, after = result["sizes_before"], result["sizes_after"]
    assert after["minutes_store"] < 0.75 * before["minutes_store"], result
    assert after["spans_store"] < before["spans_store"], result

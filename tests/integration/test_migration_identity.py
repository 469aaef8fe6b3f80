"""Migration 0006 on a store that holds data: spans keep every row, gain the host in their
identity, and keep the retention set before (chDB, in a process of its own: one engine per
process)."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers.migrations import run_in_store, store_before

pytestmark = pytest.mark.integration


SCRIPT = store_before(6) + textwrap.dedent("""
    now = int(time.time() * 1000)
    def span(event_id, user, host, app, start):
        store.command("INSERT INTO deskpulse.spans_in (event_id, tenant, user, host, app, exe, "
                      "title, url, domain, start_ms, end_ms, idle, category, productivity) "
                      f"VALUES ('{event_id}', 'acme', '{user}', '{host}', '{app}', '', 't', '', "
                      f"'', {start}, {start + 5000}, 0, 'work', 'productive')")
    for i in range(50):
        span(f"e{i}", f"user{i % 5}", "pc-1", "code", now - 3_600_000 + i * 10_000)
    store.command(retention.statement("spans", 30))
    before = rows("SELECT event_id, user, host, app, title, category, start, written_at "
                  "FROM deskpulse.spans_store FINAL ORDER BY event_id")
    applied = [m.version for m in migrate.apply(store, until=9)]
    after = rows("SELECT event_id, user, host, app, title, category, start, written_at "
                 "FROM deskpulse.spans_store FINAL ORDER BY event_id")
    # the same event_id and start from another computer of the same person: another span
    span("e0", "user0", "pc-2", "mail", now - 3_600_000)
    print(orjson.dumps({
        "applied": applied, "same": before == after, "count": len(after),
        "key": rows("SELECT sorting_key FROM system.tables WHERE database = 'deskpulse' "
                    "AND name = 'spans_store'")[0][0],
        "retention": retention.current(store)["spans"],
        "leftovers": rows("SELECT name FROM system.tables WHERE database = 'deskpulse' "
                          "AND name LIKE '%rekey%'"),
        "e0": rows("SELECT host, app FROM deskpulse.activity_spans WHERE event_id = 'e0' "
                   "ORDER BY host"),
        "again": [m.version for m in migrate.apply(store, until=9)],
    }, default=str).decode())
""")


def test_spans_are_rebuilt_with_the_host_in_their_identity_and_keep_every_row(tmp_path):
    result = run_in_store(SCRIPT, tmp_path / "store", timeout=300)
    assert 6 in result["applied"] and result["again"] == []
    assert result["same"] and result["count"] == 50, "every row, every column, as it was"
    assert result["key"] == "tenant, user, start, host, event_id"
    assert result["retention"] == 30, "the retention set before the upgrade is kept"
    assert result["leftovers"] == []
    assert result["e0"] == [["pc-1", "code"], ["pc-2", "mail"]]

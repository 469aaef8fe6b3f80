"""The analyst surface on chDB: erasure, row-policy predicates, rendered SQL, retention, docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sinks import access, cluster, retention
from sinks.erase import TABLES as ERASABLE
from sinks.erase import forget
from sinks.migrate import load_migrations
from sinks.writer import ClientStore
from tests.helpers.seed import PEOPLE, minutes, seed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def users_in(chdb, table: str, tenant: str, settings: dict | None = None) -> set[str]:
    rows = chdb.query(f"SELECT DISTINCT user FROM deskpulse.{table} WHERE tenant = '{tenant}'",
                      settings=settings or {}).result_rows
    return {r[0] for r in rows}


def test_forget_erases_a_person_everywhere_and_audits_without_naming_them(chdb):
    seed(chdb, "t-forget")
    store = ClientStore(chdb)
    bob_before = chdb.query("SELECT sum(active_seconds) FROM deskpulse.activity_minutes "
                            "WHERE tenant = 't-forget' AND user = 'bob'").result_rows
    removed = forget(store, "t-forget", "alice")
    assert removed["minutes_store"] == minutes("alice", "code") + minutes("alice", "firefox")
    assert removed["spans_store"] == 2
    assert removed["hours_agg"] == 2 and removed["days_agg"] == 2, "one row per app and hour/day"
    assert removed["deadletter_store"] == 1, "matched by the payload, subject columns empty"
    assert removed["team_members_store"] == 1
    for view in ("activity_spans", "activity_minutes", "activity_hourly", "activity_daily",
                 "people", "collectors", "team_members"):
        assert "alice" not in users_in(chdb, view, "t-forget"), view
    for table in ERASABLE:
        assert chdb.query(f"SELECT count() FROM deskpulse.{table} WHERE user = 'alice' "
                          "OR position(payload, 'alice') > 0" if table == "deadletter_store"
                          else f"SELECT count() FROM deskpulse.{table} WHERE user = 'alice'"
                          ).result_rows[0][0] == 0, table
    assert users_in(chdb, "activity_minutes", "t-forget") == {"bob", "dave"}
    assert chdb.query("SELECT sum(active_seconds) FROM deskpulse.activity_minutes "
                      "WHERE tenant = 't-forget' AND user = 'bob'").result_rows == bob_before
    [audit] = chdb.query("SELECT * FROM deskpulse.erasure_audit "
                         "WHERE tenant = 't-forget'").result_rows
    assert "alice" not in repr(audit) and sum(audit[3].values()) == sum(removed.values())
    assert forget(store, "t-forget", "alice") == dict.fromkeys(ERASABLE, 0), "idempotent"


def test_row_policy_predicates_show_managers_their_team_and_employees_themselves(chdb):
    seed(chdb, "t-rbac")

    def as_(predicate: str, view: str = "activity_minutes") -> set[str]:
        filters = {f"deskpulse.{t}": predicate for t in access.PERSONAL_TABLES}
        return users_in(chdb, view, "t-rbac", {"additional_table_filters": filters})

    assert as_(access.manager_predicate("'carol'")) == {"alice", "bob"}
    assert as_(access.manager_predicate("'alice'")) == set(), "a member manages nobody"
    assert as_(access.employee_predicate("'dave'")) == {"dave"}
    assert as_(access.employee_predicate("'dave'"), "activity_spans") == {"dave"}
    assert as_(access.manager_predicate("'carol'"), "activity_daily") == {"alice", "bob"}
    assert as_("1") == set(PEOPLE)


def explain(chdb, script: str) -> int:
    statements = [s.strip() for s in re.split(r";\s*\n", script) if s.strip()]
    for statement in statements:
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        if body.strip():
            chdb.query(f"EXPLAIN AST {body}")  # raises on a syntax error
    return len(statements)


def test_rendered_cluster_schema_and_access_sql_are_valid_clickhouse_sql(chdb):
    assert explain(chdb, cluster.render(load_migrations(), "prod")) > 20
    assert explain(chdb, access.render()) > 20
    assert explain(chdb, access.render("prod")) > 20


def test_retention_is_shown_and_changed(chdb):
    store = ClientStore(chdb)
    assert retention.current(store) == {"spans": 90, "minutes": 730, "hours": 730,
                                        "days": 730, "deadletter": 30}
    store.command(retention.statement("spans", 30))
    try:
        assert retention.current(store)["spans"] == 30
    finally:
        store.command(retention.statement("spans", 90))


def test_data_dictionary_examples_run_and_answer(chdb):
    seed(chdb, "acme")
    text = (ROOT / "docs" / "data-dictionary.md").read_text()
    examples = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(examples) >= 4
    answers = [chdb.query(sql).result_rows for sql in examples]
    assert all(answers), "every example returns rows on the seeded data"
    # the first example: hours per app per person
    per_app = {(u, a): round(h, 3) for u, a, h in answers[0]}
    assert per_app[("alice", "code")] == round(minutes("alice", "code") / 60, 3)
    assert per_app[("dave", "firefox")] == round(minutes("dave", "firefox") / 60, 3)


def test_every_table_and_column_is_in_the_data_dictionary(chdb):
    text = (ROOT / "docs" / "data-dictionary.md").read_text()
    rows = chdb.query("SELECT table, name FROM system.columns WHERE database = 'deskpulse' "
                      "AND NOT match(table, '_(store|in|mv)$') AND table != 'schema_migrations'"
                      ).result_rows
    assert rows
    missing = [f"{t}.{c}" for t, c in rows
               if f"### `{t}`" not in text or f"| `{c}` |" not in _section(text, t)]
    assert not missing, f"undocumented: {missing}"


def _section(text: str, table: str) -> str:
    start = text.index(f"### `{table}`")
    end = text.find("\n### ", start + 1)
    return text[start:end if end > 0 else None]

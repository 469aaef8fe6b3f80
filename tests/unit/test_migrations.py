import re
from pathlib import Path

import pytest

from deskpulse.core.errors import ConfigError
from sinks import access, cluster
from sinks.migrate import Migration, load_migrations, plan
from sinks.retention import parse_assignment, statement


def test_statements_split_at_line_end_semicolons_and_skip_comments():
    m = Migration(1, "x", "-- a comment; not a statement\nCREATE TABLE a (s String DEFAULT ';');"
                          "\n\nCREATE VIEW v AS SELECT 1;\n")
    assert m.statements() == ["CREATE TABLE a (s String DEFAULT ';')", "CREATE VIEW v AS SELECT 1"]


def test_shipped_migrations_are_ordered_and_planned_once():
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and versions[0] == 1
    assert plan(migrations, set()) == migrations
    assert plan(migrations, set(versions)) == []
    sql = migrations[0].sql
    for name in ("activity_spans", "activity_minutes", "deadletter"):
        assert f"deskpulse.{name} AS" in sql


def test_cluster_rendering_replicates_shards_by_person_and_keeps_names():
    sql = cluster.render(load_migrations(), "prod")
    for table in ("spans_store", "minutes_store", "hours_store", "days_store",
                  "deadletter_store"):
        assert f"CREATE TABLE IF NOT EXISTS deskpulse.{table}_local ON CLUSTER 'prod'" in sql
        assert (f"ENGINE = Distributed('prod', 'deskpulse', '{table}_local', "
                "cityHash64(tenant, user))") in sql
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/deskpulse/team_members_store'" \
        ", '{shard}-{replica}', updated_at, is_deleted)" in sql
    assert "non_replicated_deduplication_window" not in sql
    assert "CREATE VIEW IF NOT EXISTS deskpulse.activity_minutes ON CLUSTER 'prod' AS" in sql
    assert "ALTER TABLE deskpulse.spans_store_local ON CLUSTER 'prod' MODIFY TTL" in sql
    assert sql.count("INSERT INTO deskpulse.schema_migrations") == len(load_migrations())


def test_cluster_rendering_of_added_columns_and_replaced_views():
    sql = cluster.render(load_migrations(), "prod")
    # a sharded table gets the column on its local tables and on its Distributed table
    for name in ("minutes_store_local", "minutes_store"):
        assert (f"ALTER TABLE deskpulse.{name} ON CLUSTER 'prod' ADD COLUMN IF NOT EXISTS "
                "category LowCardinality(String)") in sql
    # the sink's Null input tables keep their names on every node
    assert "ALTER TABLE deskpulse.rollups_in ON CLUSTER 'prod' ADD COLUMN" in sql
    assert "rollups_in_local" not in sql
    assert "DROP VIEW IF EXISTS deskpulse.minutes_mv ON CLUSTER 'prod';" in sql
    assert "CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v4_mv ON CLUSTER 'prod' " \
        "TO deskpulse.minutes_store AS" in sql
    assert "CREATE OR REPLACE VIEW deskpulse.activity_minutes ON CLUSTER 'prod' AS" in sql
    # the new view is created before the old one is dropped: no record is missed meanwhile
    assert sql.index("minutes_v4_mv ON CLUSTER") < sql.index("DROP VIEW IF EXISTS "
                                                             "deskpulse.minutes_mv")
    with pytest.raises(ValueError, match="no cluster rendering"):
        cluster.render_statement("TRUNCATE TABLE deskpulse.spans_store", "prod")


def test_deployed_sql_files_match_what_the_code_renders():
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
    assert (deploy / "cluster-schema.sql").read_text() == cluster.render(load_migrations()), \
        "run: deskpulse db render --out deploy/clickhouse/cluster-schema.sql"
    assert (deploy / "access.sql").read_text() == access.render(), \
        "run: deskpulse db access --out deploy/clickhouse/access.sql"


def test_retention_assignments_are_checked():
    assert parse_assignment("spans=30") == ("spans", 30)
    for bad in ("spans", "spans=0", "nope=3", "minutes=-1", "days=x"):
        with pytest.raises(ConfigError):
            parse_assignment(bad)
    assert statement("deadletter", 7) == ("ALTER TABLE deskpulse.deadletter_store MODIFY TTL "
                                          "toDateTime(received_at) + INTERVAL 7 DAY")


def test_a_rebuilt_table_is_rendered_as_copy_exchange_and_drop_on_a_cluster():
    [identity] = [m for m in load_migrations() if m.name == "event_identity"]
    assert identity.rebuilt_tables() == {"spans_store"}
    sql = cluster.render(load_migrations(), "prod")
    steps = [
        "CREATE TABLE IF NOT EXISTS deskpulse.spans_rekey_catchup_local ON CLUSTER 'prod'",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_rekey_catchup_mv ON CLUSTER",
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_store_v6_local'",
        "ORDER BY (tenant, user, start, host, event_id)",
        "ENGINE = Distributed('prod', 'deskpulse', 'spans_store_v6_local', cityHash64(tenant, "
        "user))",
        "INSERT INTO deskpulse.spans_store_v6 SELECT * FROM deskpulse.spans_store SETTINGS "
        "insert_deduplicate = 0, insert_distributed_sync = 1;",
        "EXCHANGE TABLES deskpulse.spans_store_local AND deskpulse.spans_store_v6_local ON "
        "CLUSTER 'prod';",
        "DROP TABLE IF EXISTS deskpulse.spans_store_v6_local ON CLUSTER 'prod' SYNC;",
        "INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_rekey_catchup\n"
        "SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;",
        "DROP VIEW IF EXISTS deskpulse.spans_rekey_catchup_mv ON CLUSTER 'prod';",
        "DROP TABLE IF EXISTS deskpulse.spans_rekey_catchup_local ON CLUSTER 'prod' SYNC;",
    ]
    at = [sql.index(step) for step in steps]
    assert at == sorted(at), "in this order"
    # no local table is replaced in place: only a Distributed table is created again over
    # new columns (0010)
    replaced = re.findall(r"CREATE OR REPLACE TABLE (deskpulse\.\w+) .*\n(.*)", sql)
    assert replaced and all(line.startswith("ENGINE = Distributed(") for _, line in replaced)
    assert {name for name, _ in replaced} == {"deskpulse.spans_store", "deskpulse.minutes_store"}
    with pytest.raises(ValueError, match="no cluster rendering for a rebuild"):
        cluster.render_statement("CREATE OR REPLACE TABLE deskpulse.a\n(x String)\nENGINE = "
                                 "MergeTree ORDER BY x\nAS SELECT * FROM deskpulse.b", "prod")


def test_a_rebuild_that_converts_columns_copies_them_converted_and_renews_the_distributed():
    [keys] = [m for m in load_migrations() if m.name == "compact_event_keys"]
    assert keys.rebuilt_tables() == {"spans_store", "minutes_store"}
    sql = cluster.render([keys], "prod")
    steps = [
        "CREATE TABLE IF NOT EXISTS deskpulse.minutes_keys_catchup_local ON CLUSTER 'prod'",
        "DROP VIEW IF EXISTS deskpulse.minutes_v4_mv ON CLUSTER 'prod';",
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/"
        "minutes_store_v10_local'",
        "INSERT INTO deskpulse.minutes_store_v10 SELECT tenant, user, host, app, domain, minute, "
        "sipHash64(event_id) AS event_key, active_ms, idle_ms, category, productivity FROM "
        "deskpulse.minutes_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;",
        "EXCHANGE TABLES deskpulse.minutes_store_local AND deskpulse.minutes_store_v10_local ON "
        "CLUSTER 'prod';",
        "CREATE OR REPLACE TABLE deskpulse.minutes_store ON CLUSTER 'prod' AS "
        "deskpulse.minutes_store_local\nENGINE = Distributed('prod', 'deskpulse', "
        "'minutes_store_local', cityHash64(tenant, user));",
        "DROP TABLE IF EXISTS deskpulse.minutes_store_v10_local ON CLUSTER 'prod' SYNC;",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v10_mv ON CLUSTER 'prod' TO "
        "deskpulse.minutes_store AS",
        "INSERT INTO deskpulse.minutes_store SELECT * FROM deskpulse.minutes_keys_catchup\n"
        "SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;",
    ]
    at = [sql.index(step) for step in steps]
    assert at == sorted(at), "in this order"
    # a rebuild that keeps its columns (0006, 0009) does not touch the Distributed table
    [identity] = [m for m in load_migrations() if m.name == "event_identity"]
    assert "CREATE OR REPLACE" not in cluster.render([identity], "prod")

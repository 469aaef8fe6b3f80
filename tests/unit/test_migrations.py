from sinks.migrate import Migration, load_migrations, plan


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

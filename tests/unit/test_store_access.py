"""Pure parts of the store owner's access rules: the statement check, request parsing,
admin parameters, result encoding, secrets and the data dir's modes."""

from __future__ import annotations

import os
import stat

import orjson
import pytest

from deskpulse.core.errors import ConfigError, QueryError, QueryRefused, StackError
from deskpulse.core.privatefiles import write_private
from deskpulse.ops.embedded import secure_data_dir
from sinks import admin
from sinks.main import read_secret
from sinks.readonly import QueryLimits, check_statement, engine_error, json_result, tokens
from sinks.server import RequestError, authorised, content_length, json_object, sql_of


@pytest.mark.parametrize("sql", [
    "SELECT * FROM file('/etc/passwd', 'LineAsString')", "select FILE('/etc/passwd')",
    "SELECT `file`('/x')", 'SELECT "url"(\'http://x\')', "SELECT * FROM s3Cluster('c', 'x')",
    "SELECT * FROM remoteSecure('h', system.one)", "SELECT * FROM icebergS3('x')",
    "SELECT * FROM python(x)", "SELECT * FROM executable('x', 'TSV', 'a String')",
    "SELECT * FROM clusterAllReplicas('c', system.one)",
    "SELECT * FROM file /* a comment */ ('/x')",
    "SELECT 1 INTO OUTFILE '/tmp/x'", "SELECT 1 into   outfile '/tmp/x'",
    "INSERT INTO t VALUES (1)", "ALTER TABLE t DELETE WHERE 1", "SYSTEM SHUTDOWN",
    "SET readonly = 0", "KILL QUERY WHERE 1", "USE system", "CREATE TABLE x (a Int8)",
    "SELECT 1; DROP TABLE t", "SELECT ';'; DROP TABLE t", "SELECT 1 -- x\n; SELECT 2",
    "SELECT $$ -- $$; DROP TABLE t",
    "SELECT command FROM system.mutations", "SELECT * FROM `system`.\"processes\"",
    "SELECT query FROM system.query_log", "SHOW PROCESSLIST",
    "SELECT * FROM merge('system', '^mutations$')", "SELECT 'unterminated", "SELECT 1 /* open",
    "SELECT 1 /* /* nested */ still open", "", "   ", ";",
])
def test_the_statement_check_refuses(sql):
    with pytest.raises(QueryError):
        check_statement(sql)


@pytest.mark.parametrize(("sql", "runs"), [
    ("SELECT 1", "SELECT 1"), ("SELECT 1;", "SELECT 1"), ("SELECT 1 ; ; -- done", "SELECT 1 "),
    ("  with x AS (SELECT 1) SELECT * FROM x", "  with x AS (SELECT 1) SELECT * FROM x"),
    ("SELECT url, title FROM deskpulse.activity_spans", None),
    ("SELECT 'file(' AS s, \"file\" FROM t", None),  # a string and a column, not calls
    ("SELECT URLHierarchy(url) FROM deskpulse.activity_spans", None),
    ("SELECT 'it''s', 'a\\'b', `we``ird` FROM t", None),
    ("SELECT 1 /* a /* nested */ comment */", None), ("SELECT 1 # note", None),
    ("SHOW TABLES FROM deskpulse", None), ("DESCRIBE TABLE deskpulse.activity_spans", None),
    ("EXPLAIN SELECT 1", None), ("EXISTS TABLE deskpulse.people", None),
    ("(SELECT 1) UNION ALL (SELECT 2)", None), ("SELECT name FROM system.tables", None),
    ("SELECT cos(1), into FROM t", None),
])
def test_the_statement_check_lets_reads_through(sql, runs):
    assert check_statement(sql) == (sql if runs is None else runs)


def test_a_typo_is_a_query_error_and_a_write_is_refused():
    with pytest.raises(QueryError) as typo:
        check_statement("SELEC 1")
    assert type(typo.value) is QueryError and "SELEC" in str(typo.value)
    with pytest.raises(QueryRefused, match="read-only"):
        check_statement("DROP TABLE deskpulse.spans_store")


def test_the_lexer_reads_quotes_and_comments_as_clickhouse_does():
    kinds = [(t.kind, t.text) for t in tokens("SELECT 'a;b' -- c;\n, \"d\"\"e\" /* ; */ ;")]
    assert kinds == [("word", "SELECT"), ("string", "a;b"), ("punct", ","),
                     ("quoted", 'd"e'), ("punct", ";")]


def test_engine_errors_map_to_the_error_tree():
    limits = QueryLimits(max_result_rows=500, max_result_bytes=2048)
    rows = engine_error("Code: 396. DB::Exception: Limit for result exceeded, max rows: 500.00, "
                        "current rows: 65.41 thousand. (TOO_MANY_ROWS_OR_BYTES)", limits)
    assert str(rows) == "result has more than 500 rows; add LIMIT or aggregate"
    size = engine_error("Limit for result exceeded, max bytes: 2.00 KiB (TOO_MANY_ROWS_OR_BYTES)",
                        limits)
    assert str(size) == "result is larger than 2,048 bytes; add LIMIT or aggregate"
    assert isinstance(engine_error("Cannot modify 'readonly' setting in readonly mode. "
                                   "(READONLY)", limits), QueryRefused)
    other = engine_error("Code: 47. Unknown identifier", limits)
    assert type(other) is QueryError


def test_results_of_any_bytes_become_json():
    body = orjson.loads(json_result(["a", "b", "c"], [[b"\xffA", {b"\xfe": 1}, 2**100]]))
    assert body == {"columns": ["a", "b", "c"], "rows": [["\ufffdA", {"\ufffd": 1}, str(2**100)]]}
    fast = orjson.loads(json_result(["t"], [[(b"x", 1)]]))
    assert fast == {"columns": ["t"], "rows": [[["x", 1]]]}


@pytest.mark.parametrize(("header", "status"), [
    (None, 411), ("-1", 400), ("-0", 400), ("1e3", 400), ("", 400), (" 12x", 400),
    ("\u0663", 400), ("2000000", 413),
])
def test_content_length_is_strict(header, status):
    with pytest.raises(RequestError) as refused:
        content_length(header, 1 << 20)
    assert refused.value.status == status


def test_bodies_and_tokens_are_strict():
    assert content_length(" 17 ", 100) == 17
    for raw in (b"", b"nope", b"[]", b'"sql"', b"\xff"):
        with pytest.raises(RequestError):
            json_object(raw)
    for body in ({}, {"sql": 1}, {"sql": "SELECT 1", "x": 2}, {"SQL": "SELECT 1"}):
        with pytest.raises(RequestError):
            sql_of(body)
    assert sql_of({"sql": "SELECT 1"}) == "SELECT 1"
    assert authorised("Bearer " + "t" * 20, "t" * 20)
    assert not authorised("Bearer " + "t" * 19, "t" * 20)
    assert not authorised(None, "t" * 20) and not authorised("Bearer ", "")
    assert not authorised("Bearer é", "t" * 20)


class Recorder:
    def __init__(self) -> None:
        self.commands: list[str] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str):
        return [], []


@pytest.mark.parametrize(("op", "params", "message"), [
    ("sql", {}, "unknown admin operation"),
    ("forget", {"tenant": "acme"}, "user must be"),
    ("forget", {"tenant": "a/b", "user": "x"}, "A-Za-z0-9._-"),
    ("forget", {"tenant": "acme", "user": "x", "where": "1"}, "unknown parameter"),
    ("forget", {"tenant": "acme", "user": ["x"]}, "user must be"),
    ("retention", {"set": {"spans": "90"}}, "must be an integer"),
    ("retention", {"set": {"spans": 0}}, "DAYS from 1 to 36500"),
    ("retention", {"set": [1]}, "must be an object"),
    ("recategorize", {"tenant": "acme", "since": "yesterday"}, "is not a date"),
    ("recategorize", {"tenant": "acme", "since": "2999-01-01"}, "in the future"),
    ("team", {"tenant": "acme", "team": "t", "user": "u", "role": "owner"}, "role"),
    ("team", {"tenant": "acme", "team": "t", "user": "u", "remove": "yes"}, "remove"),
    ("migrate", {"force": True}, "unknown parameter"),
])
def test_admin_parameters_are_checked_before_anything_runs(op, params, message):
    store = Recorder()
    with pytest.raises(ConfigError, match=message):
        admin.run(op, params, admin.AdminContext(store))  # type: ignore[arg-type]
    assert store.commands == []


def test_a_team_change_is_one_insert_with_escaped_values():
    store = Recorder()
    done = admin.run("team", {"tenant": "acme", "team": "r'ed", "user": "a\\b",
                              "role": "manager"}, admin.AdminContext(store))  # type: ignore
    assert done == {"team": "r'ed", "user": "a\\b", "role": "manager", "removed": False}
    [sql] = store.commands
    assert "'r\\'ed'" in sql and "'a\\\\b'" in sql and sql.endswith("'manager', 0)")


def test_secrets_come_from_private_files_or_the_environment(tmp_path):
    path = tmp_path / "token"
    write_private(path, b"s" * 20 + b"\n")
    assert read_secret("token", path, "X", environ={}, required=True) == "s" * 20
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_secret("token", path, "X", environ={}, required=True)
    assert read_secret("token", None, "X", environ={"X": "e" * 16}, required=True) == "e" * 16
    assert read_secret("admin token", None, "X", environ={}, required=False) is None
    with pytest.raises(ConfigError, match="no token"):
        read_secret("token", None, "X", environ={}, required=True)
    with pytest.raises(ConfigError, match="shorter than"):
        read_secret("token", None, "X", environ={"X": "short"}, required=True)


def test_the_data_dir_is_made_private(tmp_path):
    data = tmp_path / "data"
    secure_data_dir(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    (data / "policies.json").write_text("{}")
    (data / "logs").mkdir()
    (data / "logs" / "sink.log").write_text("x")
    for path, mode in ((data, 0o755), (data / "policies.json", 0o644), (data / "logs", 0o755),
                       (data / "logs" / "sink.log", 0o664)):
        os.chmod(path, mode)
    notes: list[str] = []
    secure_data_dir(data, notes.append)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (
        data, data / "policies.json", data / "logs", data / "logs" / "sink.log")] == \
        [0o700, 0o600, 0o700, 0o600]
    assert notes and "0755->0700" in notes[0]
    write_private(data / "policies.json", b"{}")
    assert stat.S_IMODE((data / "policies.json").stat().st_mode) == 0o600
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot create the data dir"):
        secure_data_dir(tmp_path / "file")
    (tmp_path / "link").symlink_to(data)
    with pytest.raises(ConfigError, match="not a directory"):
        secure_data_dir(tmp_path / "link")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a dir to another user needs root")
def test_a_data_dir_of_another_user_is_refused(tmp_path):
    os.chown(tmp_path, 54321, 54321)
    with pytest.raises(StackError, match="belongs to uid 54321"):
        secure_data_dir(tmp_path)

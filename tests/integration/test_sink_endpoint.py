"""The store owner's endpoint under attack: a real StoreEndpoint over real chDB, spoken to in HTTP.

Every request here was answered on the old endpoint by doing what it asked (reading a
file, writing the store, keeping a SET for every later query, shutting the engine
down), by an unbounded result, or by a dropped connection and a traceback in the log.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import orjson
import pytest

from deskpulse.core.errors import QueryError, QueryRefused
from deskpulse.core.procs import http_json
from sinks import admin as admin_ops
from sinks.readonly import QueryLimits
from sinks.server import StoreEndpoint
from sinks.writer import ClientStore, ReadOnlyQueries, connect
from tests.helpers.seed import seed

pytestmark = pytest.mark.integration

TOKEN = "q" * 24
ADMIN = "a" * 32
TENANT = "ep"
LIMITS = QueryLimits(max_result_rows=1000, max_result_bytes=1_000_000, max_execution_s=60)


@pytest.fixture(scope="module")
def endpoint(chdb, tmp_path_factory):
    seed(chdb, TENANT)
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text("TOP SECRET\n")
    admin_store = ClientStore(connect(f"chdb://{chdb.path}"))
    ep = StoreEndpoint(
        host="127.0.0.1", port=0, token=TOKEN, health=lambda: {"ready": True},
        query=ReadOnlyQueries(f"chdb://{chdb.path}", LIMITS), metrics=lambda: "",
        admin_token=ADMIN,
        admin=lambda op, params: admin_ops.run(op, params, admin_ops.AdminContext(admin_store)))
    ep.start()
    ep.secret = secret  # type: ignore[attr-defined]
    try:
        yield ep
    finally:
        ep.stop()


def post(ep, sql: str, token: str = TOKEN) -> tuple[int, dict]:
    return http_json(f"http://127.0.0.1:{ep.port}/query", timeout=60,
                     body=orjson.dumps({"sql": sql}), token=token)


def refused(ep, sql: str, kind: str = "QueryRefused") -> str:
    status, body = post(ep, sql)
    assert status == 400 and body["type"] == kind, (sql, status, body)
    return body["error"]


def rows(ep, sql: str) -> list:
    status, body = post(ep, sql)
    assert status == 200, body
    return body["rows"]


def raw(ep, request: bytes, shut: bool = True) -> tuple[int, bytes]:
    """Send bytes as they are; the status code and body of the answer."""
    with socket.create_connection(("127.0.0.1", ep.port), timeout=40) as s:
        s.sendall(request)
        if shut:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), f"no HTTP answer: {data[:200]!r}"
    return int(head.split()[1]), body


def spans(ep) -> int:
    return rows(ep, f"SELECT count() FROM deskpulse.spans_store WHERE tenant = '{TENANT}'")[0][0]


def test_files_urls_and_other_servers_are_out_of_reach(endpoint):
    path = endpoint.secret
    for sql in (f"SELECT * FROM file('{path}', 'LineAsString')",
                f"SELECT file('{path}')",  # the scalar function, which readonly lets through
                f'SELECT "file"(\'{path}\')',
                f"SELECT * FROM view(SELECT * FROM file('{path}', 'LineAsString'))",
                "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
                "SELECT * FROM s3('http://127.0.0.1:9/bucket/key', 'CSV')",
                "SELECT * FROM remote('127.0.0.1:9', system.one)",
                "SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
                "SELECT * FROM postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')",
                "SELECT * FROM executable('id', 'TSV', 'x String')",
                "SELECT * FROM Python(endpoint)"):
        assert "not run here" in refused(endpoint, sql), sql
    assert "OUTFILE" in refused(endpoint, f"SELECT 1 INTO OUTFILE '{path}.out'")
    assert not Path(f"{path}.out").exists()


def test_writes_ddl_and_system_statements_are_refused_and_change_nothing(endpoint):
    before = spans(endpoint)
    for sql in ("CREATE TABLE deskpulse.x (a Int8) ENGINE = Memory",
                "DROP TABLE deskpulse.spans_store",
                "INSERT INTO deskpulse.team_members_store (tenant, team, user) "
                f"VALUES ('{TENANT}', 'evil', 'mallory')",
                f"ALTER TABLE deskpulse.spans_store DELETE WHERE tenant = '{TENANT}'",
                "SYSTEM SHUTDOWN", "KILL QUERY WHERE 1", "OPTIMIZE TABLE deskpulse.spans_store",
                "TRUNCATE TABLE deskpulse.spans_store", "GRANT ALL ON *.* TO default",
                f"SELECT 1; ALTER TABLE deskpulse.spans_store DELETE WHERE tenant = '{TENANT}'",
                f"ALTER TABLE deskpulse.spans_store DELETE WHERE tenant = '{TENANT}'; SELECT 1"):
        assert "read-only" in refused(endpoint, sql) or "one statement" in refused(endpoint, sql)
    assert "one statement" in refused(endpoint, "SELECT 1; SELECT 2")
    assert spans(endpoint) == before > 0
    assert rows(endpoint, "SELECT 1;") == [[1]], "a trailing ';' is fine"
    assert rows(endpoint, "SELECT count() FROM deskpulse.team_members WHERE user = 'mallory'") \
        == [[0]]


def test_settings_never_persist_and_readonly_cannot_be_lifted(endpoint):
    everyone = rows(endpoint, "SELECT count() FROM deskpulse.spans_store")
    hide = "additional_table_filters = {'deskpulse.spans_store': 'user = \\'nobody\\''}"
    assert "read-only" in refused(endpoint, f"SET {hide}")
    assert "read-only" in refused(endpoint, f"SELECT count() FROM deskpulse.spans_store "
                                            f"SETTINGS {hide}")
    assert rows(endpoint, "SELECT count() FROM deskpulse.spans_store") == everyone
    assert rows(endpoint, "SELECT getSetting('readonly')") == [[1]], "each query is readonly"
    for sql in ("SELECT 1 SETTINGS readonly = 0",
                "SELECT number FROM numbers(5000) SETTINGS max_result_rows = 0",
                "SELECT number FROM numbers(5000) SETTINGS result_overflow_mode = 'break'"):
        assert "readonly" in refused(endpoint, sql), sql
    # a subquery's SETTINGS clause is ignored by the engine: still readonly, still bounded
    assert rows(endpoint, "SELECT * FROM (SELECT getSetting('readonly') "
                          "SETTINGS readonly = 0)") == [[1]]
    assert refused(endpoint, "SELECT * FROM (SELECT number FROM numbers(5000) "
                             "SETTINGS max_result_rows = 0, readonly = 0)", "ResultTooLarge")
    assert "heredoc" in refused(endpoint, "SELECT $$ -- $$; DROP TABLE deskpulse.spans_store")
    assert "not closed" in refused(endpoint, "SELECT 1 /* SETTINGS readonly = 0")


def test_a_result_above_the_bound_is_refused_with_a_clear_message(endpoint):
    assert refused(endpoint, "SELECT number FROM numbers(1001)", "ResultTooLarge") == \
        "result has more than 1,000 rows; add LIMIT or aggregate"
    assert "add LIMIT or aggregate" in refused(
        endpoint, "SELECT groupArray(number) FROM numbers(1000000)", "ResultTooLarge")
    assert len(rows(endpoint, "SELECT number FROM numbers(1000)")) == 1000
    assert rows(endpoint, "SELECT count() FROM (SELECT number FROM numbers(5000))") == [[5000]]


def test_a_query_after_a_bound_hit_midway_reads_its_own_result(chdb):
    """The bound hit after the first block was sent: chDB kept the rest of that stream and
    answered a later query on the handle with it (seen: every second try)."""
    big = QueryLimits(max_result_rows=100_000)
    ep = StoreEndpoint(host="127.0.0.1", port=0, token=TOKEN, health=lambda: {"ready": True},
                       query=ReadOnlyQueries(f"chdb://{chdb.path}", big), metrics=lambda: "")
    ep.start()
    try:
        for i in range(10):
            assert refused(ep, "SELECT number FROM numbers(100001)", "ResultTooLarge")
            assert rows(ep, f"SELECT {i} AS i") == [[i]]
    finally:
        ep.stop()


def test_values_that_are_not_utf8_or_json_come_back_readable(endpoint):
    [[text, keyed, big, fixed]] = rows(
        endpoint, "SELECT unhex('ff41') AS t, map(toFixedString(unhex('fe'), 1), 1) AS m, "
                  "toUInt128('340282366920938463463374607431768211455') AS b, "
                  "toFixedString('ab', 2) AS f")
    assert text == "\ufffdA" and keyed == {"\ufffd": 1}
    assert big == "340282366920938463463374607431768211455" and fixed == "ab"
    assert refused(endpoint, "SELECT no_such_column", "QueryError").startswith("Code: 47")


def test_malformed_requests_are_answered_without_a_traceback(endpoint, caplog, capfd):
    caplog.set_level(logging.DEBUG, logger="sinks")
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()

    def req(body: bytes, headers: bytes = b"", length: bytes | None = None) -> bytes:
        cl = b"" if length is None and not body else \
            b"Content-Length: " + (length if length is not None else str(len(body)).encode()) \
            + b"\r\n"
        return b"POST /query HTTP/1.1\r\nHost: x\r\n" + auth + headers + cl + b"\r\n" + body

    cases = [
        (req(b"not json"), 400), (req(b"[1, 2]"), 400), (req(b'{"sql": 5}'), 400),
        (req(b'{"sql": "SELECT 1", "user": "x"}'), 400), (req(b'{"query": "SELECT 1"}'), 400),
        (req(b"\xff\xfe"), 400),
        (req(b"", length=b"-5"), 400), (req(b'{"sql": "SELECT 1"}', length=b"-1"), 400),
        (req(b"", length=b"abc"), 400), (req(b"", length=b"\xd9\xa3"), 400),
        (req(b"x" * 10, length=str(10 << 20).encode()), 413),
        (b"POST /query HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n", 411),
        (req(b'{"sql": "SEL', length=b"100"), 400),  # the body ends early
        (req(b"", headers=b"Transfer-Encoding: chunked\r\n"), 411),
        (b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 401),
        (b"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"q" * 23
         + b"\r\nContent-Length: 2\r\n\r\n{}", 401),
        (b"POST /admin/forget HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 2\r\n\r\n{}",
         401),
        (b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404),
        (b"DELETE /query HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /query HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"\x16\x03\x01\x00garbage\r\n\r\n", 400),
    ]
    for request, status in cases:
        got, body = raw(endpoint, request)
        assert got == status, (request[:80], got, body)
    assert raw(endpoint, req(b'{"sql": "SELECT 42"}'))[0] == 200, "still serving"
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in capfd.readouterr().err


def test_admin_operations_need_the_admin_token_and_run_by_name(endpoint):
    url = f"http://127.0.0.1:{endpoint.port}/admin"
    add = {"tenant": TENANT, "team": "blue", "user": "erin", "role": "manager"}
    assert http_json(f"{url}/team", body=orjson.dumps(add), token=TOKEN)[0] == 401
    assert http_json(f"{url}/team", body=orjson.dumps(add), token=None)[0] == 401
    status, body = http_json(f"{url}/team", body=orjson.dumps(add), token=ADMIN, timeout=60)
    assert status == 200 and body["role"] == "manager", body
    assert rows(endpoint, "SELECT role FROM deskpulse.team_members "
                          f"WHERE tenant = '{TENANT}' AND user = 'erin'") == [["manager"]]
    status, body = http_json(f"{url}/sql", body=orjson.dumps({"sql": "DROP DATABASE deskpulse"}),
                             token=ADMIN)
    assert status == 400 and "unknown admin operation 'sql'" in body["error"]
    status, body = http_json(f"{url}/forget", body=orjson.dumps({"tenant": TENANT, "user": 7}),
                             token=ADMIN)
    assert status == 400 and body["type"] == "ConfigError"
    status, body = http_json(f"{url}/forget", token=ADMIN, timeout=120,
                             body=orjson.dumps({"tenant": TENANT, "user": "alice"}))
    assert status == 200 and body["removed"]["spans_store"] == 2, body
    assert rows(endpoint, "SELECT count() FROM deskpulse.spans_store "
                          f"WHERE tenant = '{TENANT}' AND user = 'alice'") == [[0]]
    status, body = http_json(f"{url}/retention", token=ADMIN, timeout=60,
                             body=orjson.dumps({"set": {"deadletter": 0}}))
    assert status == 400 and "DAYS from 1 to 36500" in body["error"]


def test_without_an_admin_token_the_sink_serves_no_admin_operation(chdb):
    ep = StoreEndpoint(host="127.0.0.1", port=0, token=TOKEN, health=lambda: {"ready": True},
                       query=ReadOnlyQueries(f"chdb://{chdb.path}"), metrics=lambda: "")
    ep.start()
    try:
        for token in (None, "", TOKEN, ADMIN):
            status, body = http_json(f"http://127.0.0.1:{ep.port}/admin/migrate", token=token,
                                     body=b"{}")
            assert status == 404 and "no admin operations" in body["error"]
    finally:
        ep.stop()


def test_the_engine_refuses_on_its_own_what_the_statement_check_also_stops(endpoint, chdb):
    """The second line: the same attacks sent with the read-only profile but without the
    statement check are refused by ClickHouse itself."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from sinks.readonly import profile
    client = connect(f"chdb://{chdb.path}")
    before = spans(endpoint)
    for sql in (f"SELECT * FROM file('{endpoint.secret}', 'LineAsString')",
                "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
                "SELECT * FROM remote('127.0.0.1:9', system.one)",
                "SELECT * FROM executable('id', 'TSV', 'x String')",
                "CREATE TABLE deskpulse.x (a Int8) ENGINE = Memory",
                f"ALTER TABLE deskpulse.spans_store DELETE WHERE tenant = '{TENANT}'",
                "INSERT INTO deskpulse.team_members_store (tenant, team, user) "
                "VALUES ('x', 'y', 'z')",
                "SYSTEM SHUTDOWN", "SELECT 1 SETTINGS readonly = 0"):
        with pytest.raises(ClickHouseError, match="READONLY"):
            client.query(sql, settings=profile(LIMITS))
    assert spans(endpoint) == before


def test_the_statement_check_alone(endpoint):
    from sinks.readonly import check_statement
    assert check_statement("  SELECT 'a;b' -- ; x\n ;; ") == "  SELECT 'a;b' -- ; x\n "
    assert check_statement("WITH 1 AS x SELECT x") == "WITH 1 AS x SELECT x"
    assert check_statement("(SELECT 1) UNION ALL (SELECT 2)")
    assert check_statement("SELECT url FROM deskpulse.activity_spans")  # a column, no call
    for sql in ("", " ; ", "SELECT 'open", "SELECT `a", "SELECT 1 /* /* */"):
        with pytest.raises(QueryRefused):
            check_statement(sql)
    with pytest.raises(QueryError) as typo:
        check_statement("SELEC nonsense")
    assert type(typo.value) is QueryError, "a typo is a query error, not a refused write"

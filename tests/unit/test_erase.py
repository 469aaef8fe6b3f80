"""The pure parts of erasure: which requests are refused, how a login may be spelled in JSON,
and the subject a dead letter carries. The SQL itself is proven on chDB in
tests/integration/test_erasure.py."""

from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner

from deskpulse.cli import cli
from deskpulse.core.errors import ConfigError
from schemas.records import PAYLOAD_LIMIT
from sinks.erase import MAX_LOGIN, check_subject, encodings
from sinks.rows import poison_record, poison_subject
from streams.core import Rejected, process
from streams.seen import PartitionedSeenIndex

NOW = 1_795_000_000_000


@pytest.mark.parametrize("user", ["", " ", "\t\n ", "\u3000", "\u2003\u00a0", "x" * 256])
def test_blank_and_over_long_logins_are_refused(user):
    with pytest.raises(ConfigError):
        check_subject("default", user)


@pytest.mark.parametrize("tenant", ["", " ", "a/b", "bad tenant!", "x" * 65])
def test_tenants_outside_the_contract_are_refused(tenant):
    with pytest.raises(ConfigError, match="not a valid tenant"):
        check_subject(tenant, "alice")


@pytest.mark.parametrize("user", ["a", " alice", 'o"brien', "x" * MAX_LOGIN, "zoë😀"])
def test_real_logins_pass(user):
    check_subject("acme.eu", user)


@pytest.mark.parametrize("user", ["", "   "])
def test_forget_refuses_a_blank_login_with_one_line_before_asking(tmp_path, user):
    result = CliRunner().invoke(cli, ["forget", "--user", user, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("ConfigError: refusing to erase an empty or blank login")
    assert len(result.output.strip().splitlines()) == 1 and "Erase every row" not in result.output


def test_forget_refuses_an_over_long_login(tmp_path):
    result = CliRunner().invoke(cli, ["forget", "--user", "x" * 300, "--yes",
                                      "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.startswith("ConfigError: the login is 300")


@pytest.mark.parametrize("login, spelled", [
    ('o"brien', 'o\\"brien'),
    ("back\\slash", "back\\\\slash"),
    ("josé", "jos\\u00e9"),
    ("josé", "jos\\u00E9"),
    ("josé", "josé"),
    ("zoë😀", "zo\\u00eb\\ud83d\\ude00"),
    ("zoë😀", "zo\\u00EB\\uD83D\\uDE00"),
    ("a/b", "a\\/b"),
    ("tab\tx", "tab\\tx"),
    ("ctl\x01", "ctl\\u0001"),
    ("ctl\x01", "ctl\x01"),
    ("é/\"", "\\u00e9\\/\\\""),
])
def test_encodings_cover_what_json_writers_produce(login, spelled):
    assert spelled in encodings(login)


@pytest.mark.parametrize("login", ['o"brien', "back\\slash", "zoë😀", "a/b", "tab\tx", "\u2028"])
def test_encodings_are_what_orjson_and_json_dumps_write(login):
    forms = encodings(login)
    assert orjson.dumps(login).decode()[1:-1] in forms
    assert json.dumps(login)[1:-1] in forms
    assert all(json.loads(f'"{f}"') == login for f in forms if f != login), \
        "every escaped form means the login (the raw one is for payloads JSON refuses)"


def _rejected(raw: bytes):
    out = process(raw, key=None, now_ms=NOW, seen=PartitionedSeenIndex(), partition=0, offset=1)
    assert isinstance(out, Rejected)
    return out.deadletter


def test_a_dead_letter_carries_tenant_user_and_host_when_the_payload_parses():
    dl = _rejected(orjson.dumps({"schema": "nope", "tenant": "acme", "user": 'o"b',
                                 "host": "pc-7"}))
    assert (dl["tenant"], dl["user"], dl["host"]) == ("acme", 'o"b', "pc-7")
    dl = _rejected(orjson.dumps({"tenant": 5, "user": ["x"], "host": None}))
    assert (dl["tenant"], dl["user"], dl["host"]) == ("", "", "")
    dl = _rejected(b'{"tenant":"acme","user":"alice","host":"pc"')  # not JSON: nothing read
    assert (dl["tenant"], dl["user"], dl["host"]) == ("", "", "")


def test_a_long_payload_is_cut_but_its_subject_is_read_from_all_of_it():
    raw = orjson.dumps({"title": "t" * 5000, "tenant": "acme", "user": "zoë", "host": "pc"})
    dl = _rejected(raw)
    assert len(dl["payload"].encode()) <= PAYLOAD_LIMIT and "zoë" not in dl["payload"]
    assert (dl["tenant"], dl["user"], dl["host"]) == ("acme", "zoë", "pc")


def test_the_sink_reads_the_subject_of_what_it_cannot_store():
    one = {"tenant": "acme", "user": "zoë", "host": "pc", "start_ms": "x"}
    assert poison_subject(orjson.dumps(one)) == ("acme", "zoë", "pc")
    assert poison_subject(orjson.dumps([one, one])) == ("acme", "zoë", "pc")
    mixed = [one, {**one, "user": "bob", "host": {"x": 1}}]
    assert poison_subject(orjson.dumps(mixed)) == ("acme", "", ""), "a batch of several people"
    assert poison_subject(b"{broken") == ("", "", "")
    assert poison_subject(b"[1, 2]") == ("", "", "")
    record = orjson.loads(poison_record(orjson.dumps(one), "bad", topic="t", partition=0,
                                        offset=1, now_ms=2))
    assert (record["tenant"], record["user"], record["host"]) == ("acme", "zoë", "pc")


def test_a_character_split_by_the_payload_cut_is_dropped_not_replaced():
    from schemas.records import payload_text
    raw = b"a" * (PAYLOAD_LIMIT - 3) + "😀".encode() + b"tail"  # 3 of its 4 bytes fit
    assert payload_text(raw) == "a" * (PAYLOAD_LIMIT - 3), "ends with what was sent"
    assert payload_text(b'{"user":"zo' + "ë".encode()[:1]) == '{"user":"zo\ufffd', \
        "a short message keeps its invalid end: that is what was sent"
    assert payload_text(b"\xff" * 5000) == "\ufffd" * (PAYLOAD_LIMIT // 3)

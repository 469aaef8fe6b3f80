"""``forget`` on real chDB (the project's migrations, the sink's ingest path, the worker's core)
and through the whole embedded stack.

Every dead letter a test writes carries a marker (its ``event_id``, at the start of the
payload); after ``forget`` the markers left must be exactly those of the people who stay.
"""

from __future__ import annotations

import itertools
import json
import re
import time

import orjson
import pytest

from deskpulse.core.errors import ConfigError
from schemas import topics
from schemas.records import PAYLOAD_LIMIT
from sinks.erase import TABLES, forget
from sinks.rows import poison_record
from sinks.writer import ClickHouseWriter, ClientStore
from streams.core import Rejected, process
from streams.seen import PartitionedSeenIndex
from tests.conftest import wait_for
from tests.integration.test_policies import dp, event, send

pytestmark = pytest.mark.integration

_offsets = itertools.count(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def upper_hex(text: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), text)


def every_char_escaped(login: str) -> str:
    """How a writer that escapes everything (as .NET and Go do for many characters) spells it."""
    units = login.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}"
                   for i in range(0, len(units), 2))


def head(marker: str, tenant: str) -> str:
    return f'{{"event_id":"{marker}","tenant":"{tenant}",'


def unreadable_payloads(marker: str, tenant: str, login: str) -> list[str]:
    """Payloads naming ``login`` that no JSON parser reads (the worker fills no subject)."""
    ascii_ = json.dumps(login)[1:-1]
    raw = orjson.dumps(login).decode()[1:-1]
    h = head(marker, tenant)
    slashed = ascii_.replace("/", "\\/")
    return [
        h + f'"user":"{ascii_}","app":"x"',                       # json.dumps, cut short
        h + f'"user":"{raw}","app":"x"',                          # orjson, cut short
        h + f'"user":"{upper_hex(ascii_)}"',                      # upper-case hex digits
        h + f'"url":"https:\\/\\/x","user":"{slashed}"',     # PHP's \/
        h + f'\n  "user" :\t"{ascii_}",\n  "app": "x"\n',        # JSON white space
        h + f'"\\u0075\\u0073er":"{ascii_}"',                     # the key escaped too
        h + f'"user":"{every_char_escaped(login)}"',              # every character escaped
        h + '"user":"' + login.replace("\\", "\\\\").replace('"', '\\"') + '"',  # hand-made
        h + f'"user": "{ascii_}" "app": x}}',                     # garbage after the value
    ]


def cut_payloads(marker: str, tenant: str, login: str) -> list[bytes]:
    """Over 4 KiB, unreadable, cut by the worker inside the user value at each position."""
    out = []
    for encoded in {json.dumps(login)[1:-1], orjson.dumps(login).decode()[1:-1]}:
        for keep in range(1, len(encoded.encode()) + 1):
            if not encoded.encode()[:keep].decode("utf-8", errors="ignore"):
                continue  # cut inside the first character: nothing of the login is left
            front = head(marker, tenant) + '"title":"'
            pad = PAYLOAD_LIMIT - len(front.encode()) - len('","user":"') - keep
            out.append((front + "t" * pad + '","user":"' + encoded + '","app":"x"').encode()
                       + b",}" + b"z" * 100)
    return out


class Letters:
    """Dead letters made by the worker's own core and written through the sink's ingest path."""

    def __init__(self, chdb) -> None:
        self.writer = ClickHouseWriter(chdb)
        self.records: list[bytes] = []

    def worker(self, raw: bytes | str) -> None:
        raw = raw.encode() if isinstance(raw, str) else raw
        offset = next(_offsets)
        out = process(raw, key=None, now_ms=now_ms(), seen=PartitionedSeenIndex(), partition=0,
                      offset=offset)
        assert isinstance(out, Rejected), raw[:80]
        self.records.append(orjson.dumps(out.deadletter))

    def sink(self, value: bytes) -> None:
        self.records.append(poison_record(value, "bad", topic=topics.SPANS, partition=9,
                                          offset=next(_offsets), now_ms=now_ms()))

    def write(self) -> None:
        self.writer.write("deskpulse.deadletter_in", b"[" + b",".join(self.records) + b"]",
                          f"erasure-{next(_offsets)}")
        self.records.clear()


def readable_payloads(marker: str, tenant: str, login: str) -> list[bytes]:
    """Payloads that parse but are refused: the worker fills the subject columns."""
    base = {"event_id": marker, "schema": "deskpulse.activity.v1", "tenant": tenant,
            "host": "pc", "user": login, "app": "x", "start_ms": "soon", "end_ms": 1}
    return [orjson.dumps(base), json.dumps(base).encode(),
            orjson.dumps({"event_id": marker, "title": "t" * 5000, **base})]  # user after 4 KiB


def spans(tenant: str, login: str, marker: str) -> bytes:
    start = now_ms() - 3_600_000
    return orjson.dumps({"event_id": marker, "tenant": tenant, "user": login, "host": "pc",
                         "app": "code", "exe": "", "title": "", "url": "", "domain": "",
                         "start_ms": start, "end_ms": start + 60_000, "idle": False})


def markers(chdb, tenant_prefix: str) -> set[str]:
    rows = chdb.query("SELECT payload FROM deskpulse.deadletter_store").result_rows
    found = {m.group(1) for (p,) in rows if (m := re.search(r'"event_id": ?"([^"]*)"', p))}
    return {m for m in found if m.startswith(tenant_prefix + ":")}


TARGETS = ['o"brien', "back\\slash", "josé", "zoë😀", "a/b", "tab\tx", "ctl\x01x", "<b>&",
           "日本語", "anna", "\u2028sep"]


@pytest.mark.parametrize("n, login", list(enumerate(TARGETS)))
def test_forget_finds_every_spelling_of_a_login_in_dead_letters_and_spares_neighbours(
        chdb, n, login):
    tenant, other = f"era{n}", f"era{n}x"
    letters = Letters(chdb)
    gone, kept = set(), set()

    people = itertools.count()

    people = itertools.count()

    def person(who: str, tenant_: str, *, cut: bool, into: set) -> None:
        marker = f"{tenant}:p{next(people)}"  # (never the login: it would be escaped too)
        mark = "@" * (len(marker) + 5)  # as long as the marker: a cut stays where it was put
        made = [("u", p.encode()) for p in unreadable_payloads(mark, tenant_, who)]
        made += [("r", p) for p in readable_payloads(mark, tenant_, who)]
        made += [("c", p) for p in (cut_payloads(mark, tenant_, who) if cut else [])]
        for i, (kind, payload) in enumerate(made):
            letters.worker(payload.replace(mark.encode(), f"{marker}:{kind}{i:03d}".encode()))
            into.add(f"{marker}:{kind}{i:03d}")
        letters.sink(b"[" + spans(tenant_, who, f"{marker}:s").replace(b'"idle":false',
                                                                       b'"idle":"no"') + b"]")
        into.add(f"{marker}:s")

    person(login, tenant, cut=True, into=gone)
    # the refused tenant names no organisation: the payload is erased from any tenant
    letters.worker(orjson.dumps({"event_id": f"{tenant}:bad", "tenant": "bad tenant!",
                                 "user": login}))
    gone.add(f"{tenant}:bad")
    # neighbours: a prefix and extensions of the login, the same login in another tenant
    neighbours = [login + "a", "x" + login] + ([login[:-1]] if login[:-1].strip() else [])
    for who in neighbours:
        person(who, tenant, cut=False, into=kept)
    person(login, other, cut=False, into=kept)
    # cut one character after the login ends: a prefix of the neighbour's, not of the login
    longer = json.dumps(login + "a")[1:-1]
    front = head(f"{tenant}:longcut", tenant) + '"title":"'
    pad = PAYLOAD_LIMIT - len(front) - len('","user":"') - len(longer)
    letters.worker(front + "t" * pad + '","user":"' + longer + '","app":"x"' + ",}" + "z" * 99)
    kept.add(f"{tenant}:longcut")
    # the login only in free text: not a user field, not this person's dead letter
    letters.worker(head(f"{tenant}:title", tenant) + '"user":"bob","title":'
                   + json.dumps(f"mail from {login}") + ',}')
    kept.add(f"{tenant}:title")
    letters.write()
    ClickHouseWriter(chdb).write("deskpulse.spans_in", spans(tenant, login, f"{tenant}:span")
                                 + b"\n" + spans(tenant, login + "a", f"{tenant}:span2"),
                                 f"erasure-spans-{n}")
    assert markers(chdb, tenant) == gone | kept, "every letter was stored"

    removed = forget(ClientStore(chdb), tenant, login)

    assert markers(chdb, tenant) == kept, f"left or lost: {markers(chdb, tenant) ^ kept}"
    assert removed["deadletter_store"] == len(gone) and removed["spans_store"] == 1
    assert chdb.query(f"SELECT user FROM deskpulse.spans_store WHERE tenant = '{tenant}'"
                      ).result_rows == [(login + "a",)]
    assert forget(ClientStore(chdb), tenant, login) == dict.fromkeys(TABLES, 0)


def test_dead_letters_are_stored_with_the_tenant_user_and_host_their_payload_names(chdb):
    letters = Letters(chdb)
    letters.worker(orjson.dumps({"event_id": "subject:1", "tenant": "subject", "user": 'o"b',
                                 "host": "pc-ø", "app": 1}))
    letters.sink(spans("subject", "zoë", "subject:2").replace(b'"idle":false', b'"idle":"no"'))
    letters.write()
    rows = chdb.query("SELECT tenant, user, host FROM deskpulse.deadletter "
                      "WHERE tenant = 'subject' ORDER BY user").result_rows
    assert rows == [("subject", 'o"b', "pc-ø"), ("subject", "zoë", "pc")]


def test_a_cut_stored_with_a_replacement_character_is_erased(chdb):
    """Before payload_text dropped a split character, a cut inside one ended with U+FFFD."""
    letters = Letters(chdb)
    for i, login in enumerate(["zoë😀", "josé"]):
        letters.records.append(orjson.dumps({
            "received_at_ms": now_ms(), "reason": "invalid_json", "detail": "", "field": "",
            "payload": head(f"fffd:{i}", "fffd") + f'"user":"{login[:-1]}\ufffd',
            "topic": topics.ACTIVITY, "partition": 0, "offset": next(_offsets),
            "tenant": "", "user": ""}))
    letters.write()
    assert markers(chdb, "fffd") == {"fffd:0", "fffd:1"}
    forget(ClientStore(chdb), "fffd", "zoë😀")
    forget(ClientStore(chdb), "fffd", "josé")
    assert markers(chdb, "fffd") == set()


def total_rows(chdb) -> dict[str, int]:
    return {t: chdb.query(f"SELECT count() FROM deskpulse.{t}").result_rows[0][0]
            for t in TABLES}


@pytest.mark.parametrize("login", ["", " ", "\t", "\u3000 ", "x" * 256])
def test_a_blank_or_over_long_login_is_refused_and_nothing_is_deleted(chdb, login):
    letters = Letters(chdb)
    letters.worker(b'{"tenant":"blank","app":"x"}')                   # no user: user = ''
    letters.worker(b'{"tenant":"blank","user":"","app":"x"}')         # empty user
    letters.worker(b'{"tenant":"blank","user":" ","app":"x"}')        # blank user
    letters.worker(b'{"tenant":"blank","user":"' + b"x" * 255 + b'","app":1}')
    letters.write()
    before = total_rows(chdb)
    assert before["deadletter_store"] >= 4
    with pytest.raises(ConfigError):
        forget(ClientStore(chdb), "blank", login)
    assert total_rows(chdb) == before


HOSTILE = {
    "row filter": "additional_table_filters = {" + ", ".join(
        f"'deskpulse.{t}': '0'" for t in TABLES) + "}",
    "result filter": "additional_result_filter = '0'",
    "offset": "offset = 1",
    "read limit that stops early": "max_rows_to_read = 1, read_overflow_mode = 'break', "
                                   "max_block_size = 1",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_verification_ignores_what_an_earlier_set_did_to_the_session(chdb, name):
    tenant = "hostile" + str(list(HOSTILE).index(name))
    # other people's dead letters first, so a read that stops early never reaches hers
    chdb.command("INSERT INTO deskpulse.deadletter_store (received_at, reason, payload, topic, "
                 "partition, offset, tenant, user) SELECT now64(3), 'invalid_json', "
                 "concat('{\"user\":\"u', toString(number), '\"'), 'filler', 0, number, '', '' "
                 "FROM numbers(30000)")
    letters = Letters(chdb)
    letters.worker(head(f"{tenant}:1", tenant) + '"user":"dora"')
    letters.worker(orjson.dumps({"event_id": f"{tenant}:2", "tenant": tenant, "user": "dora"}))
    letters.write()
    ClickHouseWriter(chdb).write("deskpulse.spans_in", spans(tenant, "dora", f"{tenant}:s"),
                                 f"hostile-{tenant}")
    setting = HOSTILE[name]
    chdb.command(f"SET {setting}")
    try:
        removed = forget(ClientStore(chdb), tenant, "dora")
    finally:
        for part in re.split(r",\s*(?=\w+ =)", setting):
            chdb.command(f"SET {part.split('=')[0].strip()} = DEFAULT")
    assert removed["deadletter_store"] == 2 and removed["spans_store"] == 1
    assert markers(chdb, tenant) == set()
    assert chdb.query("SELECT count() FROM deskpulse.spans_store WHERE user = 'dora'"
                      ).result_rows == [(0,)]
    chdb.command("ALTER TABLE deskpulse.deadletter_store DELETE WHERE topic = 'filler' "
                 "SETTINGS mutations_sync = 2")


# --- through the whole stack: the worker makes the dead letters -------------------------

STACK_TARGETS = ['o"brien', "back\\slash", "josé", "zoë😀"]
STACK_KEPT = ['o"brie', "back\\slas", "jos", "zoë", "josé2"]


def test_forget_through_the_stack_erases_dead_letters_the_worker_made(stack, stack_store):
    tenant = "era"
    start = now_ms() - 3_600_000
    events, raw = [], []
    expected: dict[str, set[str]] = {}
    for n, who in enumerate(STACK_TARGETS + STACK_KEPT):
        mine = expected.setdefault(who, set())
        events.append(event(tenant, who, "pc", start, start + 60_000, f"{tenant}:{n}:ok"))
        key = f"{tenant}/{who}".encode()
        broken = json.dumps(event(tenant, who, "pc", start, start + 1, f"{tenant}:{n}:j"))
        raw.append((key, broken[:-1].encode()))                       # json.dumps, cut short
        raw.append((key, orjson.dumps(event(tenant, who, "pc", "x", 1, f"{tenant}:{n}:t"))))
        mine |= {f"{tenant}:{n}:j", f"{tenant}:{n}:t"}
        if who in STACK_TARGETS:
            mark = "@" * len(f"{tenant}:{n}:c00")  # as long as the marker: the cut stays put
            for i, payload in enumerate(cut_payloads(mark, tenant, who)[::3]):
                raw.append((key, payload.replace(mark.encode(), f"{tenant}:{n}:c{i:02d}".encode())))
                mine.add(f"{tenant}:{n}:c{i:02d}")
    send(stack, events, raw)

    def stored() -> tuple[int, set[str]]:
        spans_n = int(stack_store.query("SELECT count() FROM deskpulse.activity_spans "
                                        f"WHERE tenant = '{tenant}'")[1][0][0])
        _, rows = stack_store.query("SELECT payload FROM deskpulse.deadletter")
        found = {m.group(1) for (p,) in rows if (m := re.search(r'"event_id": ?"([^"]*)"', p))}
        return spans_n, {m for m in found if m.startswith(tenant + ":")}

    everything = set().union(*expected.values())
    want = (len(events), everything)
    wait_for(lambda: stored() == want, 120, "every span and dead letter", interval=1)
    for who in STACK_TARGETS:
        out = dp(stack, "forget", "--user", who, "--tenant", tenant, "--yes")
        assert "erased" in out

    spans_n, left = stored()
    kept = set().union(*(expected[w] for w in STACK_KEPT))
    assert left == kept, f"left or lost: {left ^ kept}"
    assert spans_n == len(STACK_KEPT)
    _, users = stack_store.query("SELECT DISTINCT user FROM deskpulse.activity_spans "
                                 f"WHERE tenant = '{tenant}'")
    assert {u for (u,) in users} == set(STACK_KEPT)

import orjson
import pytest

from schemas.activity import ActivityEvent, domain_of
from schemas.codec import encode_event
from schemas.validate import REASONS, Invalid, parse
from tests.helpers.events import NOW, raw


def test_valid_event_with_defaults_and_unknown_fields():
    result = parse(raw(extra_field={"x": 1}, url="https://www.Example.COM:8443/a?q=1"), NOW)
    assert isinstance(result, ActivityEvent)
    assert result.idle is False and result.seq == 0 and result.title == ""
    assert result.domain == "example.com"
    assert result.key == b"acme/alice"


CASES = [
    (b"{not json", "invalid_json", ""),
    (b"\xff\xfe", "invalid_json", ""),
    (b"[1, 2]", "not_an_object", ""),
    (raw(schema="deskpulse.activity.v2"), "unknown_schema", "schema"),
    (raw(schema=...), "unknown_schema", "schema"),
    (raw(user=...), "missing_field", "user"),
    (raw(start_ms=None), "missing_field", "start_ms"),
    (raw(start_ms="123"), "wrong_type", "start_ms"),
    (raw(start_ms=1.5), "wrong_type", "start_ms"),
    (raw(end_ms=True), "wrong_type", "end_ms"),
    (raw(idle="yes"), "wrong_type", "idle"),
    (raw(app=42), "wrong_type", "app"),
    (raw(host=""), "empty", "host"),
    (raw(title="x" * 1025), "too_long", "title"),
    (raw(event_id="e" * 65), "too_long", "event_id"),
    (raw(tenant="acme corp"), "bad_format", "tenant"),
    # a trailing newline passed the anchored pattern with re.match ("$" matches before it):
    # "acme\n" was a second tenant that prints like "acme"
    (raw(tenant="acme\n"), "bad_format", "tenant"),
    # a blank login names nobody, and forget refuses to erase one
    (raw(user="   "), "empty", "user"),
    (raw(host="\t\u3000"), "empty", "host"),
    (raw(seq=-1), "negative", "seq"),
    (raw(start_ms=NOW - 1000, end_ms=NOW - 2000), "end_before_start", "end_ms"),
    (raw(start_ms=NOW - 3_600_001, end_ms=NOW), "span_too_long", "end_ms"),
    (raw(start_ms=NOW + 300_001, end_ms=NOW + 300_002), "in_future", "start_ms"),
    (raw(start_ms=NOW - 8 * 86_400_000, end_ms=NOW - 8 * 86_400_000 + 1), "too_old", "end_ms"),
]


@pytest.mark.parametrize(("payload", "reason", "field"), CASES)
def test_every_reason(payload, reason, field):
    result = parse(payload, NOW)
    assert isinstance(result, Invalid)
    assert (result.reason, result.field) == (reason, field)
    assert result.detail


def test_every_documented_reason_has_a_case():
    assert {reason for _, reason, _ in CASES} == set(REASONS)


def test_limits_are_inclusive():
    assert isinstance(parse(raw(title="x" * 1024, start_ms=NOW - 3_600_000, end_ms=NOW), NOW),
                      ActivityEvent)
    assert isinstance(parse(raw(start_ms=NOW + 300_000, end_ms=NOW + 300_000), NOW),
                      ActivityEvent)


def test_codec_round_trip_leaves_defaults_out():
    ev = parse(raw(title="Inbox", idle=True), NOW)
    wire = orjson.loads(encode_event(ev))
    assert wire["title"] == "Inbox" and wire["idle"] is True
    assert "url" not in wire and "seq" not in wire
    assert parse(encode_event(ev), NOW) == ev


@pytest.mark.parametrize(("url", "domain"), [
    ("", ""), ("https://WWW.github.com/x", "github.com"), ("http://www2.x.org", "www2.x.org"),
    ("not a url", ""), ("https://[::1", ""), ("https://docs.python.org:443/3/", "docs.python.org"),
])
def test_domain(url, domain):
    assert domain_of(url) == domain

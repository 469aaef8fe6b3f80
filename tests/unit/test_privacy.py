import datetime as dt
import re

import pytest

from collector.privacy import REDACTED, LocalHours, Pause, PrivacyPolicy, guard, reduce_url
from collector.spans import Sample
from deskpulse.core.errors import ConfigError


@pytest.mark.parametrize(("url", "mode", "out"), [
    ("https://mail.example.com/inbox/42?token=abc#msg", "path", "https://mail.example.com/inbox/42"),
    ("https://mail.example.com:8443/a?b", "path", "https://mail.example.com:8443/a"),
    ("https://mail.example.com/inbox/42?x", "host", "https://mail.example.com"),
    ("https://a.org/x?q=1", "full", "https://a.org/x?q=1"),
    ("https://a.org/x?q=1", "none", ""),
    ("file:///home/alice/secret.pdf", "path", "file:"),
    ("", "path", ""),
    ("https://[::1", "path", ""),
])
def test_reduce_url(url, mode, out):
    assert reduce_url(url, mode) == out


def sample(**kw):
    base = {"at_ms": 1_795_000_000_000, "app": "firefox", "title": "Invoice 4711 for Bob",
            "url": "https://shop.example/orders/4711?session=s3cr3t"}
    base.update(kw)
    return Sample(**base)


def test_guard_reduces_redacts_and_can_drop_titles():
    policy = PrivacyPolicy(redact_patterns=(re.compile(r"\d{4}"),))
    out = guard(sample(), policy, paused=False)
    assert out.title == f"Invoice {REDACTED} for Bob"
    assert out.url == f"https://shop.example/orders/{REDACTED}"
    assert "s3cr3t" not in out.url
    no_titles = guard(sample(), PrivacyPolicy(capture_titles=False), paused=False)
    assert no_titles.title == "" and no_titles.app == "firefox"


def test_guard_records_nothing_when_paused_or_out_of_hours():
    assert guard(sample(), PrivacyPolicy(), paused=True) is None
    hours = LocalHours.parse("mon-fri 09:00-17:00", "Europe/Berlin")
    monday_10_berlin = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    monday_8_berlin = monday_10_berlin.replace(hour=8, minute=59)
    saturday = monday_10_berlin - dt.timedelta(days=2)
    policy = PrivacyPolicy(hours=hours)
    assert guard(sample(at_ms=int(monday_10_berlin.timestamp() * 1000)), policy,
                 paused=False) is not None
    assert guard(sample(at_ms=int(monday_8_berlin.timestamp() * 1000)), policy,
                 paused=False) is None
    assert guard(sample(at_ms=int(saturday.timestamp() * 1000)), policy, paused=False) is None


def test_local_hours_follow_dst_and_wrap_weeks():
    hours = LocalHours.parse("fri-mon 09:00-10:00", "America/New_York")
    assert sorted(hours.days) == [0, 4, 5, 6]
    # 2026-03-09 (Mon) is after the US DST switch: 09:30 EDT = 13:30 UTC
    assert hours.allows(int(dt.datetime(2026, 3, 9, 13, 30, tzinfo=dt.UTC).timestamp() * 1000))
    assert not hours.allows(int(dt.datetime(2026, 3, 9, 14, 30, tzinfo=dt.UTC).timestamp()
                                * 1000))


@pytest.mark.parametrize(("spec", "tz", "message"), [
    ("mon-fri 9-17", "UTC", "not like"),
    ("xyz 09:00-10:00", "UTC", "not like"),
    ("mon 10:00-09:00", "UTC", "end must be after"),
    ("mon 09:00-10:00", "Mars/Olympus", "unknown time zone"),
])
def test_bad_hours_refused(spec, tz, message):
    with pytest.raises(ConfigError, match=message):
        LocalHours.parse(spec, tz)


def test_pause_with_and_without_end():
    assert Pause(since_ms=0).active(10**13)
    timed = Pause(since_ms=0, until_ms=1000)
    assert timed.active(999) and not timed.active(1000)

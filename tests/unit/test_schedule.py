"""Schedule clipping against a brute-force reference, DST days of both hemispheres included."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpulse.core.errors import PolicyError
from schemas.policy import Interval, Schedule, parse_hours

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
         "Asia/Kathmandu", "UTC"]
# instants near DST transitions (both hemispheres) plus ordinary days
DST_DAYS = [dt.datetime(2026, 3, 29, 0, 30), dt.datetime(2026, 10, 25, 0, 30),   # EU
            dt.datetime(2026, 3, 8, 6, 30), dt.datetime(2026, 11, 1, 5, 30),     # US
            dt.datetime(2026, 4, 4, 15, 30), dt.datetime(2026, 10, 3, 15, 30),   # Sydney
            dt.datetime(2026, 4, 5, 2, 30), dt.datetime(2026, 9, 6, 3, 30),      # Santiago
            dt.datetime(2026, 11, 23, 8, 0)]


def reference_seconds(schedule: Schedule, start_s: int, end_s: int) -> list[int]:
    """Every whole second of [start, end) whose local wall-clock time is in the schedule."""
    zone = schedule.zone
    inside = []
    for t in range(start_s, end_s):
        local = dt.datetime.fromtimestamp(t, zone)
        minute = local.hour * 60 + local.minute
        today, yesterday = local.date(), local.date() - dt.timedelta(days=1)
        hit = False
        for iv in schedule.intervals:
            crosses = iv.end <= iv.start
            if iv.day == local.weekday() and today not in schedule.off and (
                    iv.start <= minute < iv.end if not crosses else minute >= iv.start):
                hit = True
            if crosses and iv.day == yesterday.weekday() and yesterday not in schedule.off \
                    and minute < iv.end:
                hit = True
        if hit:
            inside.append(t)
    return inside


def expand(parts: list[tuple[int, int]]) -> list[int]:
    assert all(s % 1000 == 0 and e % 1000 == 0 for s, e in parts)
    return [t for s, e in parts for t in range(s // 1000, e // 1000)]


hours = st.sampled_from(["mon-fri 09:00-17:00", "sat 10:00-14:00", "sun 22:00-03:30",
                         "mon-sun 01:30-02:45", "tue-thu 00:00-24:00", "fri-mon 23:00-01:00",
                         "wed 02:00-03:00"])


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(ZONES), around=st.sampled_from(DST_DAYS),
       shift_s=st.integers(-4 * 3600, 4 * 3600), length_s=st.integers(0, 3600),
       specs=st.lists(hours, min_size=1, max_size=3, unique=True), off=st.booleans())
def test_clip_matches_brute_force(zone, around, shift_s, length_s, specs, off):
    try:
        schedule = Schedule.build(zone, specs, off=[around.date().isoformat()] if off else [])
    except PolicyError:
        return  # overlapping combination: refused, nothing to clip
    start_s = int(around.replace(tzinfo=dt.UTC).timestamp()) + shift_s
    parts = schedule.clip(start_s * 1000, (start_s + length_s) * 1000)
    assert expand(parts) == reference_seconds(schedule, start_s, start_s + length_s)
    assert all(a < b for a, b in parts)
    assert all(parts[i][1] < parts[i + 1][0] for i in range(len(parts) - 1)), "merged, ordered"


def at(zone, *args):
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_berlin_spring_forward_day_counts_real_time_only():
    # 2026-03-29 (Sunday): 02:00 -> 03:00 local. A schedule 01:00-04:00 holds 2 real hours.
    s = Schedule.build("Europe/Berlin", ["sun 01:00-04:00"])
    parts = s.clip(at("UTC", 2026, 3, 28, 23, 0), at("UTC", 2026, 3, 29, 4, 0))
    assert sum(b - a for a, b in parts) == 2 * 3_600_000


def test_new_york_fall_back_counts_the_repeated_hour_twice():
    # 2026-11-01 (Sunday): 02:00 EDT -> 01:00 EST; 00:00-03:00 local holds 4 real hours.
    s = Schedule.build("America/New_York", ["sun 00:00-03:00"])
    parts = s.clip(at("UTC", 2026, 11, 1, 3, 0), at("UTC", 2026, 11, 1, 9, 0))
    assert sum(b - a for a, b in parts) == 4 * 3_600_000


def test_interval_crossing_midnight_belongs_to_its_start_day():
    s = Schedule.build("UTC", ["fri 22:00-02:00"], off=["2026-11-20"])  # that Friday is off
    friday_night = s.clip(at("UTC", 2026, 11, 20, 21, 0), at("UTC", 2026, 11, 21, 3, 0))
    assert friday_night == []
    next_friday = s.clip(at("UTC", 2026, 11, 27, 21, 0), at("UTC", 2026, 11, 28, 3, 0))
    assert next_friday == [(at("UTC", 2026, 11, 27, 22, 0), at("UTC", 2026, 11, 28, 2, 0))]


@pytest.mark.parametrize(("hours", "message"), [
    (["mon-fri 9-17"], "not like"),
    (["mon-fri 09:00-17:00", "wed 16:00-18:00"], "overlap"),
    (["sun 22:00-02:00", "mon 01:00-03:00"], "overlap"),
    (["mon 25:00-26:00"], "00:00 to 24:00"),
    (["mon 10:00-10:00"], "needs a length"),
    ([], "at least one"),
])
def test_bad_schedules_are_refused(hours, message):
    with pytest.raises(PolicyError, match=message):
        Schedule.build("UTC", hours)


def test_unknown_zone_and_bad_day_off():
    with pytest.raises(PolicyError, match="unknown time zone 'Europe/Atlantis'"):
        Schedule.build("Europe/Atlantis", ["mon 09:00-10:00"])
    with pytest.raises(PolicyError, match="not a date"):
        Schedule.build("UTC", ["mon 09:00-10:00"], off=["24.12.2026"])


def test_parse_hours_ranges_and_record_round_trip():
    assert parse_hours("fri-mon 08:00-24:00") == [Interval(4, 480, 1440), Interval(5, 480, 1440),
                                                  Interval(6, 480, 1440), Interval(0, 480, 1440)]
    s = Schedule.build("Asia/Kathmandu", ["mon-fri 09:15-17:45"], off=["2026-12-24"])
    assert Schedule.from_record(s.to_record()) == s

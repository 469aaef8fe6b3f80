"""Clipping through the per-day cache gives what the direct computation gives, for many
ranges on one schedule (the cache warm), across midnights and DST days."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.policy import DAY_MS, Schedule

DAY0 = int(dt.datetime(2026, 3, 27, tzinfo=dt.UTC).timestamp() * 1000)  # EU DST on the 29th
SCHEDULES = [Schedule.build("Europe/Berlin", ["mon-fri 09:00-17:00", "sun 22:00-03:30"],
                            off=["2026-03-30"]),
             Schedule.build("America/Santiago", ["mon-sun 00:00-24:00"]),
             Schedule.build("Asia/Kathmandu", ["fri-mon 23:00-01:00", "wed 02:00-03:00"])]


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, len(SCHEDULES) - 1),
       ranges=st.lists(st.tuples(st.integers(0, 5 * DAY_MS), st.integers(0, 3_600_000)),
                       min_size=1, max_size=20))
def test_clip_equals_the_direct_computation(which, ranges):
    schedule = SCHEDULES[which]  # shared: its cache is warm from earlier examples
    for offset, length in ranges:
        start = DAY0 + offset
        assert schedule.clip(start, start + length) == schedule.clip_exact(start, start + length)


def test_a_range_across_midnight_is_one_part_when_both_sides_are_inside():
    schedule = SCHEDULES[1]  # always inside
    midnight = DAY0 + DAY_MS
    assert schedule.clip(midnight - 5_000, midnight + 5_000) == [(midnight - 5_000,
                                                                   midnight + 5_000)]

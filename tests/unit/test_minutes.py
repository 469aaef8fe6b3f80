from hypothesis import given
from hypothesis import strategies as st

from streams.minutes import MINUTE_MS, split_minutes


def reference(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """Brute force: overlap of the span with every minute it may touch."""
    out = []
    first = start_ms // MINUTE_MS
    last = end_ms // MINUTE_MS
    for m in range(first, last + 1):
        lo, hi = m * MINUTE_MS, (m + 1) * MINUTE_MS
        overlap = min(end_ms, hi) - max(start_ms, lo)
        if overlap > 0:
            out.append((lo // 1000, overlap))
    return out


def test_split_across_boundaries_to_the_millisecond():
    start = 28_333_333 * MINUTE_MS - 1  # 1 ms before a minute boundary
    assert start % MINUTE_MS == MINUTE_MS - 1
    parts = split_minutes(start, start + 1 + MINUTE_MS + 250)
    boundary = (start + 1) // 1000
    assert parts == [(boundary - 60, 1), (boundary, MINUTE_MS), (boundary + 60, 250)]


def test_exact_minute_and_empty_span():
    assert split_minutes(0, MINUTE_MS) == [(0, MINUTE_MS)]
    assert split_minutes(5, 5) == []


@given(st.integers(0, 4_000_000_000_000), st.integers(0, 3_600_000))
def test_matches_reference_and_sums_exactly(start, length):
    parts = split_minutes(start, start + length)
    assert parts == reference(start, start + length)
    assert sum(ms for _, ms in parts) == length
    assert all(minute % 60 == 0 and 0 < ms <= MINUTE_MS for minute, ms in parts)

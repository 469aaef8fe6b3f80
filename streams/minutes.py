"""Exact split of a span into UTC minutes (millisecond precision). Pure."""

from __future__ import annotations

MINUTE_MS = 60_000


def split_minutes(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """``[(minute_start_epoch_seconds, milliseconds_in_that_minute), ...]``.

    The parts add up to ``end_ms - start_ms`` exactly; a zero-length span gives
    no parts.
    """
    out: list[tuple[int, int]] = []
    cursor = start_ms
    while cursor < end_ms:
        minute = cursor - cursor % MINUTE_MS
        boundary = minute + MINUTE_MS
        stop = boundary if boundary < end_ms else end_ms
        out.append((minute // 1000, stop - cursor))
        cursor = stop
    return out

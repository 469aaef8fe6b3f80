"""Policies, pure: do-not-track periods, working-hour schedules, and how they apply.

Semantics (DESIGN.md §4):

- Do-not-track: a subject (a user or a host within a tenant) has listed periods.
  An event is dropped when its subject is listed at processing time, or when the
  event's time overlaps a period in which it was listed.
- Working hours: weekly intervals in local wall-clock time of an IANA zone, plus
  days off. An interval whose end is not after its start crosses midnight and
  belongs to its start day (a day off removes the whole interval). An instant is
  inside the schedule when its local wall-clock time is inside an interval, so
  DST is followed exactly: skipped wall times never happen, repeated ones count
  twice. No schedule means always on; a user's own schedule replaces the tenant
  default.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deskpulse.core.errors import PolicyError
from schemas import topics
from schemas.categories import RuleBook
from schemas.category_defaults import DEFAULT_RULES
from schemas.device_policy import DevicePolicy

DAY_MS = 86_400_000
MINUTE_MS = 60_000
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday
_EPOCH = dt.date(1970, 1, 1)
_HOURS = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


# -- do-not-track ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DntEntry:
    """A listed subject and every period it was listed in (``None`` end: still listed)."""

    tenant: str
    kind: str  # "user" | "host"
    name: str
    periods: tuple[tuple[int, int | None], ...] = ()
    reason: str = ""

    @property
    def key(self) -> str:
        return dnt_key(self.tenant, self.kind, self.name)

    def listed_at(self, at_ms: int) -> bool:
        return any(start <= at_ms and (end is None or at_ms < end) for start, end in self.periods)

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        return any(s <= end_ms and (e is None or start_ms < e) for s, e in self.periods)

    def add(self, now_ms: int, reason: str = "") -> DntEntry:
        if self.listed_at(now_ms) and self.periods and self.periods[-1][1] is None:
            return self
        return DntEntry(self.tenant, self.kind, self.name, (*self.periods, (now_ms, None)),
                        reason or self.reason)

    def remove(self, now_ms: int) -> DntEntry:
        periods = tuple((s, now_ms if e is None else e) for s, e in self.periods)
        return DntEntry(self.tenant, self.kind, self.name, periods, self.reason)

    def to_record(self) -> dict:
        return {"tenant": self.tenant, "kind": self.kind, "name": self.name,
                "periods": [list(p) for p in self.periods], "reason": self.reason}

    @classmethod
    def from_record(cls, d: dict) -> DntEntry:
        return cls(d["tenant"], d["kind"], d["name"],
                   tuple((int(s), None if e is None else int(e)) for s, e in d["periods"]),
                   d.get("reason", ""))


def dnt_key(tenant: str, kind: str, name: str) -> str:
    if kind not in ("user", "host"):
        raise PolicyError(f"a do-not-track subject is a user or a host, not {kind!r}")
    return f"{tenant}/{kind}:{name}"


# -- schedules ---------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Interval:
    day: int    # 0 = Monday
    start: int  # minute of the day
    end: int    # minute of the day, 1..1440; end <= start: crosses midnight

    @property
    def length(self) -> int:
        return self.end - self.start if self.end > self.start else self.end + 1440 - self.start


def parse_hours(spec: str) -> list[Interval]:
    """``"mon-fri 09:00-17:00"``, ``"sat 10:00-14:00"``, ``"mon-fri 22:00-06:00"``."""
    m = _HOURS.match(spec.strip().lower())
    if not m or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
        raise PolicyError(f"hours {spec!r} are not like 'mon-fri 09:00-17:00'")
    h1, m1, h2, m2 = (int(m.group(i)) for i in (3, 4, 5, 6))
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440 or (h2 == 24 and m2):
        raise PolicyError(f"hours {spec!r}: times go from 00:00 to 24:00")
    if start == end or (end == 0 and start == 0):
        raise PolicyError(f"hours {spec!r}: an interval needs a length (00:00-24:00 is a "
                          "whole day)")
    if end == 0:
        end = 1440
    first = DAYS.index(m.group(1))
    last = DAYS.index(m.group(2)) if m.group(2) else first
    days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
    return [Interval(d, start, end) for d in days]


def check_no_overlap(intervals: Sequence[Interval]) -> None:
    """Refuse intervals that overlap on the weekly clock (midnight and week wrap included)."""
    spans = []
    week = 7 * 1440
    for iv in intervals:
        a = iv.day * 1440 + iv.start
        spans.append((a, a + iv.length, iv))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (_a1, b1, i1), (a2, _, i2) in zip(spans, spans[1:], strict=False):
        if a2 < b1:
            raise PolicyError(f"working hours overlap: {fmt_interval(i1)} and {fmt_interval(i2)}")
    if spans and spans[-1][1] > week and spans[-1][1] - week > spans[0][0]:
        raise PolicyError(f"working hours overlap: {fmt_interval(spans[-1][2])} and "
                          f"{fmt_interval(spans[0][2])}")


def fmt_interval(iv: Interval) -> str:
    def hm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"
    return f"{DAYS[iv.day]} {hm(iv.start)}-{hm(iv.end)}"


@dataclass(frozen=True)
class Schedule:
    tz: str
    intervals: tuple[Interval, ...]
    off: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def build(cls, tz: str, hours: Iterable[str], off: Iterable[str | dt.date] = ()) -> Schedule:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Europe": a directory
            raise PolicyError(f"unknown time zone {tz!r} (use an IANA name like "
                              "'Europe/Berlin')") from exc
        intervals = [iv for spec in hours for iv in parse_hours(spec)]
        if not intervals:
            raise PolicyError("a schedule needs at least one --hours interval")
        check_no_overlap(intervals)
        days = set()
        for d in off:
            try:
                days.add(d if isinstance(d, dt.date) else dt.date.fromisoformat(d))
            except ValueError as exc:
                raise PolicyError(f"day off {d!r} is not a date like 2026-12-24") from exc
        return cls(tz, tuple(sorted(intervals)), frozenset(days))

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @cached_property
    def _by_day(self) -> dict[int, tuple[Interval, ...]]:
        out: dict[int, list[Interval]] = {}
        for iv in self.intervals:
            out.setdefault(iv.day, []).append(iv)
        return {d: tuple(v) for d, v in out.items()}

    def to_record(self) -> dict:
        return {"tz": self.tz, "intervals": [[i.day, i.start, i.end] for i in self.intervals],
                "off": sorted(d.isoformat() for d in self.off)}

    @classmethod
    def from_record(cls, d: dict) -> Schedule:
        return cls(d["tz"], tuple(Interval(*map(int, i)) for i in d["intervals"]),
                   frozenset(dt.date.fromisoformat(x) for x in d.get("off", ())))

    def describe(self) -> list[str]:
        lines = [fmt_interval(iv) for iv in self.intervals]
        return lines + [f"off {d.isoformat()}" for d in sorted(self.off)]

    def clip(self, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """The parts of ``[start_ms, end_ms)`` inside the schedule, in order, merged.

        Being inside is a property of each instant, so this is ``[start_ms, end_ms)``
        cut by the parts of each UTC day it touches (:meth:`clip_exact` of that whole
        day, cached per day: every event of a day shares them, which made the worker's
        clipping ~3x cheaper).
        """
        out: list[tuple[int, int]] = []
        cache = self._day_parts
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            parts = cache.get(day)
            if parts is None:
                if len(cache) >= 64:
                    cache.clear()
                parts = cache[day] = tuple(self.clip_exact(day * DAY_MS, (day + 1) * DAY_MS))
            for s, e in parts:
                if s < start_ms:
                    s = start_ms
                if e > end_ms:
                    e = end_ms
                if s < e:
                    if out and out[-1][1] == s:
                        out[-1] = (out[-1][0], e)
                    else:
                        out.append((s, e))
        return out

    @cached_property
    def _day_parts(self) -> dict[int, tuple[tuple[int, int], ...]]:
        """UTC day -> the parts of that whole day inside the schedule (filled by :meth:`clip`)."""
        return {}

    def clip_exact(self, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """:meth:`clip` computed from the zone's offsets and the weekly intervals directly."""
        out: list[tuple[int, int]] = []
        for a, b, offset in self._constant_offset_pieces(start_ms, end_ms):
            for s, e in self._clip_wall(a + offset, b + offset):
                s, e = s - offset, e - offset
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
        return out

    def _constant_offset_pieces(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """Split ``[start, end)`` where the zone's UTC offset changes (DST)."""
        pieces = []
        for day in range(start // DAY_MS, (end - 1) // DAY_MS + 1):
            for a, b, offset in _zone_day_pieces(self.tz, day):
                a, b = max(a, start), min(b, end)
                if a < b:
                    if pieces and pieces[-1][2] == offset and pieces[-1][1] == a:
                        pieces[-1] = (pieces[-1][0], b, offset)
                    else:
                        pieces.append((a, b, offset))
        return pieces

    @cached_property
    def _windows(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per weekday, the intervals as (start, end) ms after that day's midnight."""
        return tuple(tuple((iv.start * MINUTE_MS, (iv.start + iv.length) * MINUTE_MS)
                           for iv in self._by_day.get(weekday, ()))
                     for weekday in range(7))

    @cached_property
    def _off_days(self) -> frozenset[int]:
        return frozenset((d - _EPOCH).days for d in self.off)

    def _clip_wall(self, wa: int, wb: int) -> list[tuple[int, int]]:
        """Intersect a wall-clock range (naive epoch ms) with the weekly intervals."""
        out = []
        windows, off = self._windows, self._off_days
        # from the day before: it may have an interval crossing midnight
        for day in range(wa // DAY_MS - 1, (wb - 1) // DAY_MS + 1):
            ivs = windows[(day + _EPOCH_WEEKDAY) % 7]
            if not ivs or day in off:
                continue
            base = day * DAY_MS
            for start, end in ivs:
                s = base + start
                e = base + end
                if s < wa:
                    s = wa
                if e > wb:
                    e = wb
                if s < e:
                    out.append((s, e))
        if len(out) > 1:
            out.sort()
        return out


def _offset_ms(zone: ZoneInfo, at_ms: int) -> int:
    when = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).astimezone(zone)
    return int(when.utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]


@functools.lru_cache(maxsize=4096)
def _zone_day_pieces(tz: str, day: int) -> tuple[tuple[int, int, int], ...]:
    """The UTC day ``day`` cut where ``tz``'s offset changes: ``(start, end, offset)`` pieces.

    Probed hour by hour, each change located to the millisecond by bisection
    (offsets change at most once within an hour). Cached per zone and day: every
    event of a day in one zone shares the result, which made clipping ~5x cheaper.
    """
    zone = ZoneInfo(tz)
    start, end = day * DAY_MS, (day + 1) * DAY_MS
    pieces = []
    cursor = start
    while cursor < end:
        offset = _offset_ms(zone, cursor)
        same, stop = cursor, end  # ``same``: the last instant known to have ``offset``
        while same + 1 < end:
            nxt = min(end, same + 1 + 3_600_000)
            if _offset_ms(zone, nxt - 1) != offset:
                lo, hi = same, nxt - 1  # offset(lo) == offset != offset(hi)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if _offset_ms(zone, mid) == offset else (lo, mid)
                stop = hi
                break
            same = nxt - 1
        pieces.append((cursor, stop, offset))
        cursor = stop
    return tuple(pieces)


# -- the policy set a worker applies ----------------------------------------------------------

@dataclass
class PolicySet:
    """Every policy a worker knows, updated record by record from the policy topics."""

    dnt: dict[str, DntEntry] = field(default_factory=dict)
    #: key ``tenant/default`` or ``tenant/user:NAME`` -> schedule
    schedules: dict[str, Schedule] = field(default_factory=dict)
    #: productivity categories: the shipped defaults plus every tenant's rules and teams
    categories: RuleBook = field(default_factory=lambda: RuleBook(DEFAULT_RULES))
    #: device authentication: per-tenant modes and revoked credentials
    devices: DevicePolicy = field(default_factory=DevicePolicy)

    def apply(self, topic: str, key: str, record: dict | None) -> None:
        """One record of a policy topic (``None``: a tombstone)."""
        if topic == topics.POLICY_DNT:
            self.apply_dnt(key, record)
        elif topic == topics.POLICY_CATEGORY:
            self.categories.apply(key, record)
        elif topic == topics.POLICY_DEVICE:
            self.devices.apply(key, record)
        else:
            self.apply_schedule(key, record)

    def apply_dnt(self, key: str, record: dict | None) -> None:
        if record is None:
            self.dnt.pop(key, None)
        else:
            self.dnt[key] = DntEntry.from_record(record)

    def apply_schedule(self, key: str, record: dict | None) -> None:
        if record is None:
            self.schedules.pop(key, None)
        else:
            self.schedules[key] = Schedule.from_record(record)

    def blocked(self, tenant: object, user: object, host: object, now_ms: int,
                start_ms: object = None, end_ms: object = None) -> bool:
        """Is this (possibly partial or invalid) event of a do-not-track subject?"""
        if not self.dnt or not isinstance(tenant, str):
            return False
        timed = isinstance(start_ms, int) and isinstance(end_ms, int)
        for kind, name in (("user", user), ("host", host)):
            if isinstance(name, str):
                entry = self.dnt.get(f"{tenant}/{kind}:{name}")
                if entry is not None and (entry.listed_at(now_ms) or (
                        timed and entry.overlaps(start_ms, end_ms))):  # type: ignore[arg-type]
                    return True
        return False

    def schedule_for(self, tenant: str, user: str) -> Schedule | None:
        if not self.schedules:
            return None
        return self.schedules.get(f"{tenant}/user:{user}") or \
            self.schedules.get(f"{tenant}/default")


def schedule_key(tenant: str, user: str | None) -> str:
    return f"{tenant}/default" if user is None else f"{tenant}/user:{user}"

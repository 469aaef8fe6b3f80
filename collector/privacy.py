"""The privacy guard on the device. Pure: decides what may be recorded and in what form.

- private mode: nothing is recorded while paused (optionally until a time);
- a local working-hours window: nothing is recorded outside it;
- titles: captured or not, with redaction patterns applied;
- URLs: reduced to scheme + host + path by default (query and fragment dropped).

Key content is never an input here: the collector only learns *that* input happened.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.spans import Sample
from deskpulse.core.errors import ConfigError

UrlMode = Literal["full", "path", "host", "none"]
REDACTED = "[redacted]"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def reduce_url(url: str, mode: UrlMode = "path") -> str:
    """``path``: scheme://host/path (default); ``host``: scheme://host; ``none``: ''."""
    if not url or mode == "none":
        return ""
    if mode == "full":
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return f"{parts.scheme}:" if parts.scheme else ""  # file:, chrome:, about: -> scheme only
    path = parts.path if mode == "path" else ""
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ConfigError(f"redaction pattern {p!r} is not a valid regular expression: "
                              f"{exc}") from exc
    return tuple(out)


def redact(text: str, patterns: Sequence[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


@dataclass(frozen=True)
class LocalHours:
    """Weekly local working hours of the device: nothing leaves the machine outside them."""

    zone: ZoneInfo
    #: weekday (0=Monday) -> list of (start minute, end minute) of the day; end may be 1440
    days: dict[int, tuple[tuple[int, int], ...]]

    @classmethod
    def parse(cls, spec: str, tz: str) -> LocalHours:
        """``"mon-fri 08:00-18:00, sat 10:00-12:00"`` in zone ``tz``."""
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Europe": a directory
            raise ConfigError(f"unknown time zone {tz!r}") from exc
        days: dict[int, list[tuple[int, int]]] = {}
        for chunk in filter(None, (c.strip() for c in spec.split(","))):
            m = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})",
                             chunk.lower())
            if not m or m.group(1) not in _DAYS or (m.group(2) and m.group(2) not in _DAYS):
                raise ConfigError(f"working hours {chunk!r} are not like 'mon-fri 08:00-18:00'")
            first = _DAYS.index(m.group(1))
            last = _DAYS.index(m.group(2)) if m.group(2) else first
            start = int(m.group(3)) * 60 + int(m.group(4))
            end = int(m.group(5)) * 60 + int(m.group(6))
            if not (0 <= start < end <= 1440) or int(m.group(4)) > 59 or int(m.group(6)) > 59:
                raise ConfigError(f"working hours {chunk!r}: the end must be after the start "
                                  "on the same day")
            for day in range(first, last + 1) if first <= last else \
                    [*range(first, 7), *range(0, last + 1)]:
                days.setdefault(day, []).append((start, end))
        return cls(zone, {d: tuple(sorted(v)) for d, v in days.items()})

    def allows(self, at_ms: int) -> bool:
        local = dt.datetime.fromtimestamp(at_ms / 1000, self.zone)
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in self.days.get(local.weekday(), ()))


@dataclass(frozen=True)
class PrivacyPolicy:
    capture_titles: bool = True
    redact_patterns: tuple[re.Pattern[str], ...] = ()
    url_mode: UrlMode = "path"
    hours: LocalHours | None = None


def guard(sample: Sample, policy: PrivacyPolicy, *, paused: bool) -> Sample | None:
    """The sample as it may be recorded, or None when nothing may be recorded now."""
    if paused or (policy.hours is not None and not policy.hours.allows(sample.at_ms)):
        return None
    title = redact(sample.title, policy.redact_patterns) if policy.capture_titles else ""
    url = redact(reduce_url(sample.url, policy.url_mode), policy.redact_patterns)
    if title == sample.title and url == sample.url:
        return sample
    return replace(sample, title=title, url=url)


@dataclass(frozen=True)
class Pause:
    """Private mode: paused since ``since_ms``, until ``until_ms`` (None: until resumed)."""

    since_ms: int
    until_ms: int | None = None

    def active(self, now_ms: int) -> bool:
        return self.until_ms is None or now_ms < self.until_ms

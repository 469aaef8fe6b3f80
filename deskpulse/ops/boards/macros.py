"""Expansion of Grafana variables and grafana-clickhouse-datasource macros. Pure.

What Grafana and the ClickHouse plugin do to a panel's SQL before ClickHouse
sees it, for a fixed time range: the tests run every panel through this on chDB,
and ``deskpulse report`` uses it to show the boards' numbers without Grafana.
The board's ``${tz}`` (a hidden constant in Grafana: the tenant's time
zone) is ``timezone`` here unless the variables name it. The macros follow the plugin's
definitions (``$__timeFilter(col)`` is
``col >= toDateTime(from) AND col <= toDateTime(to)``, and so on).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deskpulse.core.sql import literal


@dataclass(frozen=True)
class TimeRange:
    start: dt.datetime
    end: dt.datetime
    interval_s: int = 60

    @property
    def from_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def to_s(self) -> int:
        return int(self.end.timestamp())


def _date(t: dt.datetime) -> str:
    return f"toDate('{t.astimezone(dt.UTC):%Y-%m-%d}')"


def _macros(r: TimeRange) -> dict[str, object]:
    f, t = f"toDateTime({r.from_s})", f"toDateTime({r.to_s})"
    fm = f"fromUnixTimestamp64Milli({int(r.start.timestamp() * 1000)})"
    tm = f"fromUnixTimestamp64Milli({int(r.end.timestamp() * 1000)})"
    return {
        "timeFilter": lambda c: f"{c} >= {f} AND {c} <= {t}",
        "timeFilter_ms": lambda c: f"{c} >= {fm} AND {c} <= {tm}",
        "dateFilter": lambda c: f"{c} >= {_date(r.start)} AND {c} <= {_date(r.end)}",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), "
                                  f"INTERVAL {max(r.interval_s, 1)} second)",
        "fromTime": f, "toTime": t, "fromTime_ms": fm, "toTime_ms": tm,
        "interval_s": str(max(r.interval_s, 1)),
    }


_CALL = re.compile(r"\$__(\w+)\(([^()]*)\)")
_PLAIN = re.compile(r"\$__(\w+)\b")
_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def expand(sql: str, r: TimeRange,
           variables: Mapping[str, str | Sequence[str]] | None = None,
           timezone: str = "UTC") -> str:
    """``sql`` as ClickHouse receives it from Grafana for range ``r`` and these variables
    (``${tz}``: ``timezone``, a checked IANA name, unless ``variables`` give it)."""
    macros = _macros(r)
    variables = {"tz": timezone, **(variables or {})}

    def call(m: re.Match[str]) -> str:
        fn = macros.get(m.group(1))
        if not callable(fn):
            raise ValueError(f"unknown macro $__{m.group(1)}(...)")
        return fn(m.group(2).strip())

    def plain(m: re.Match[str]) -> str:
        value = macros.get(m.group(1))
        if value is None or callable(value):
            raise ValueError(f"unknown macro $__{m.group(1)}")
        return str(value)

    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name not in variables:
            raise ValueError(f"no value for the variable ${name}")
        value = variables[name]
        values = [value] if isinstance(value, str) else list(value)
        if m.group(2) == "singlequote":
            return ",".join(literal(v) for v in values) if values else "''"
        if m.group(2) not in (None, "raw"):
            raise ValueError(f"unsupported format :{m.group(2)}")
        return ",".join(values)

    sql = _CALL.sub(call, sql)
    sql = _PLAIN.sub(plain, sql)
    return _VAR.sub(var, sql)

"""The reports' HTML: bar charts, tables and the page around them, self-contained. Pure.

Both reports (the managers' :mod:`deskpulse.ops.report` and a person's
:mod:`deskpulse.ops.myreport`) are drawn with these pieces, so they look and behave
alike:

* a chart is a table of rows, one per label: the label in its own column (HTML text that
  wraps, even inside a word, so a long name never runs into the next one or off the page),
  the bars as inline SVG drawn to one scale (a round number of hours), and the numbers
  in a third column; under the bars an axis with its ticks and the unit;
* every chart has a legend: a swatch and the name of each series drawn (which bar is
  idle, which productivity class is which colour), and the unit;
* the page has no script and loads nothing (a Content-Security-Policy forbids both), so
  it opens the same offline, from a mail attachment or a file share.

Every value from a desktop (people, apps, sites, categories) is made printable
(:func:`deskpulse.core.output.safe_cell`) and HTML-escaped, attributes included.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from deskpulse.core.output import safe_cell

#: series colours; the legend names each one drawn
COLOURS = {"active": "#2563eb", "idle": "#f59e0b", "productive": "#16a34a",
           "neutral": "#9ca3af", "unproductive": "#dc2626"}
#: a series without a colour of its own (a class named by a category rule, say)
OTHER = "#7c3aed"

#: one chart row: its label and (series, value) pairs, one bar each
Row = tuple[Any, Sequence[tuple[str, float]]]


def text(value: Any) -> str:
    """A value as HTML text (and attribute value): made printable, then escaped."""
    return html.escape(str(safe_cell(value)))


def colour(series: str) -> str:
    return COLOURS.get(series, OTHER)


def scale(peak: float) -> float:
    """The axis end: the smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``peak``."""
    if not peak > 0 or not math.isfinite(peak):
        return 1.0
    power = 10.0 ** math.floor(math.log10(peak))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= peak * (1 - 1e-12))


def ticks(end: float, unit: str) -> list[str]:
    """The axis' labels: 0, the middle and the end, with the unit."""
    return [f"{t:g} {unit}" for t in (0.0, end / 2, end)]


def series_rows(rows: Sequence[Sequence[Any]], series: Sequence[str]) -> list[Row]:
    """Query rows ``[label, v1, v2, ...]`` as chart rows with these series names."""
    return [(row[0], [(s, float(v)) for s, v in zip(series, row[1:1 + len(series)],
                                                     strict=True)]) for row in rows]


def bars(chart_id: str, title: str, rows: Sequence[Row], unit: str = "h",
         empty: str = "Nothing in this period.") -> str:
    """A horizontal bar chart (see the module doc): ``rows`` of ``(label, [(series,
    value), ...])``, the legend naming every series drawn, the axis in ``unit``."""
    if not rows:
        return (f'<section class="chart" id="{text(chart_id)}"><h2>{text(title)}</h2>'
                f'<p class="none">{text(empty)}</p></section>')
    drawn = list(dict.fromkeys(s for _, pairs in rows for s, _ in pairs))
    end = scale(max((v for _, pairs in rows for _, v in pairs), default=0.0))
    legend = "".join(f'<span class="key" data-series="{text(s)}"><svg width="12" height="12" '
                     f'aria-hidden="true"><rect width="12" height="12" fill="{colour(s)}"/>'
                     f"</svg> {text(s)}</span>" for s in drawn)
    body = []
    for label, pairs in rows:
        rects = "".join(
            f'<rect class="bar" data-label="{text(label)}" data-series="{text(s)}" '
            f'data-value="{v}" x="0" y="{14 * i}" width="{100 * max(v, 0.0) / end:.3f}%" '
            f'height="12" fill="{colour(s)}"><title>{text(label)}: {v:.2f} {unit} {text(s)}'
            "</title></rect>" for i, (s, v) in enumerate(pairs))
        numbers = " / ".join(f"{v:.2f} {unit}" for _, v in pairs)
        cells = " / ".join(f'<span class="v">{v:.2f} {unit}</span>' for _, v in pairs)
        body.append(f'<tr><th scope="row" class="label" dir="auto">{text(label)}</th>'
                    f'<td class="bars"><svg width="100%" height="{14 * len(pairs)}" role="img" '
                    f'aria-label="{text(label)}: {numbers}">{rects}</svg></td>'
                    f'<td class="num">{cells}</td></tr>')
    axis = "".join(f'<span class="tick">{t}</span>' for t in ticks(end, unit))
    return (f'<section class="chart" id="{text(chart_id)}"><h2>{text(title)}</h2>'
            f'<p class="legend">{legend} <span class="unit">bars in {unit_name(unit)}'
            f"</span></p><table><tbody>{''.join(body)}</tbody><tfoot><tr><td></td>"
            f'<td><div class="axis">{axis}</div></td><td class="num unit">{unit}</td></tr></tfoot>'
            "</table></section>")


def unit_name(unit: str) -> str:
    return {"h": "hours", "s": "seconds"}.get(unit, unit)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str) -> str:
    """A plain data table (every cell escaped)."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{text(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f'<table class="data" id="{text(table_id)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 64rem;
  color: #1f2937; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 0.3rem; }
.legend, .none, .unit, footer, .filters { color: #6b7280; }
.key { margin-right: 1rem; white-space: nowrap; }
section.chart table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th.label { width: 30%; text-align: left; font-weight: normal; padding: 2px 8px 2px 0;
  overflow-wrap: anywhere; vertical-align: top; }
td.bars { width: 50%; padding: 2px 0; vertical-align: top; }
td.num { width: 20%; text-align: right; font-variant-numeric: tabular-nums;
  padding-left: 8px; vertical-align: top; }
td.num .v { white-space: nowrap; }
div.axis { display: flex; justify-content: space-between; border-top: 1px solid #9ca3af;
  font-size: 0.8rem; color: #6b7280; }
table.data { border-collapse: collapse; margin-bottom: 1rem; }
table.data td, table.data th { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  overflow-wrap: anywhere; }
"""


def page(title: str, summary: str, body: str, footer: str = "", lang: str = "en") -> str:
    """The whole document: no script, nothing loaded from anywhere (see the module doc)."""
    return f"""<!DOCTYPE html>
<html lang="{text(lang)}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{text(title)}</title>
<style>{STYLE}</style></head><body>
<h1 dir="auto">{text(title)}</h1>
<p id="summary" dir="auto">{text(summary)}</p>
{body}
<footer>{footer}</footer>
</body></html>
"""

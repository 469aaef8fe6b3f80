"""Prometheus text exposition, the one way the collector and the sink write their metrics.

The stream worker counts with ``prometheus_client`` (its registry writes the same format);
the collector (a textfile for node_exporter) and the sink (``/metrics``) have a handful of
numbers each and write them through :func:`prometheus_text`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: the HTTP content type of the text format
CONTENT_TYPE = "text/plain; version=0.0.4"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    #: ``counter`` or ``gauge`` (a ``# TYPE`` line), or None (untyped)
    kind: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(metrics: Iterable[Metric]) -> str:
    """The text format: one sample per line, after its ``# TYPE`` line when typed."""
    lines = []
    for metric in metrics:
        if metric.kind is not None:
            lines.append(f"# TYPE {metric.name} {metric.kind}")
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in metric.labels.items())
        lines.append(f"{metric.name}{{{labels}}} {metric.value}" if labels else
                     f"{metric.name} {metric.value}")
    return "\n".join(lines) + "\n"

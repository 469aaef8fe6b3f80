"""orjson codec for the pipeline's messages."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from schemas.activity import ActivityEvent


def encode_event(event: ActivityEvent) -> bytes:
    """The v1 wire form of an event (optional fields at their default are left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.metadata["required"] or value != f.default:
            out[f.name] = value
    return orjson.dumps(out)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)

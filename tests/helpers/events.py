"""One valid contract event to vary, for the validator's tests (plain and fast path)."""

from __future__ import annotations

from typing import Any

import orjson

NOW = 1_795_000_000_000


def event(**overrides: Any) -> dict[str, Any]:
    """A valid v1 event with ``overrides``; a member given as ``...`` is left out."""
    base = {"schema": "deskpulse.activity.v1", "event_id": "e1", "tenant": "acme",
            "host": "pc-1", "user": "alice", "app": "firefox",
            "start_ms": NOW - 60_000, "end_ms": NOW - 1_000}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def raw(**overrides: Any) -> bytes:
    return orjson.dumps(event(**overrides))

"""Generate ``activity.v1.schema.json`` from the one Python definition.

Run ``python -m schemas.jsonschema`` to rewrite the committed file; a unit test
fails when the committed file and the definition drift apart.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson

from schemas.activity import MAX_SPAN_MS, SCHEMA_ID, ActivityEvent

SCHEMA_PATH = Path(__file__).with_name("activity.v1.schema.json")
_TYPES = {"str": "string", "int": "integer", "bool": "boolean"}


def build_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(ActivityEvent):
        m = f.metadata
        type_name = f.type if isinstance(f.type, str) else f.type.__name__
        prop: dict[str, Any] = {"type": _TYPES[type_name], "description": m["doc"]}
        if m["const"] is not None:
            prop["const"] = m["const"]
        if m["min_len"] is not None:
            prop["minLength"] = m["min_len"]
        if m["max_len"] is not None:
            prop["maxLength"] = m["max_len"]
        if m["pattern"] is not None:
            prop["pattern"] = m["pattern"]
        if m["minimum"] is not None:
            prop["minimum"] = m["minimum"]
        if m["required"]:
            required.append(f.name)
        else:
            prop["default"] = f.default
        properties[f.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "deskpulse activity event v1",
        "description": (
            "One span of unchanging foreground activity. Cross-field rules: "
            f"start_ms <= end_ms <= start_ms + {MAX_SPAN_MS}; start_ms at most 5 minutes "
            "after processing time; end_ms within the 7-day late-arrival horizon. "
            "Unknown fields are ignored."
        ),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def render() -> bytes:
    return orjson.dumps(build_schema(), option=orjson.OPT_INDENT_2) + b"\n"


def main() -> None:
    SCHEMA_PATH.write_bytes(render())
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()

"""The contracts between the pipeline's stages: event v1, topics, codec, validation.

The validator (msgspec) is loaded on first use of ``Invalid``/``validate_event``: the
collector imports this package for the event and the topics and never validates, and
msgspec's import costs it about 2 MB of RSS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.activity import SCHEMA_ID, ActivityEvent

if TYPE_CHECKING:
    from schemas.validate import Invalid, validate_event

__all__ = ["SCHEMA_ID", "ActivityEvent", "Invalid", "validate_event"]


def __getattr__(name: str) -> Any:
    if name in ("Invalid", "validate_event"):
        from schemas import validate
        return getattr(validate, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")

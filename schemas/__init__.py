"""The contracts between the pipeline's stages: event v1, topics, codec, validation."""

from schemas.activity import SCHEMA_ID, ActivityEvent
from schemas.validate import Invalid, validate_event

__all__ = ["SCHEMA_ID", "ActivityEvent", "Invalid", "validate_event"]

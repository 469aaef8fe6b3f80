"""Validation of raw activity messages, with a machine-readable reason for every refusal.

Reasons (the ``reason`` column of ``deskpulse.deadletter``):

=================== =========================================================
``invalid_json``    the message is not JSON (or not UTF-8)
``not_an_object``   the JSON is not an object
``unknown_schema``  ``schema`` is missing or not ``deskpulse.activity.v1``
``missing_field``   a required field is absent (``field`` names it)
``wrong_type``      a field has the wrong JSON type
``empty``           a required string is empty or only whitespace
``too_long``        a string is longer than its limit
``bad_format``      a string does not match its pattern (tenant)
``negative``        an integer is below its minimum
``end_before_start`` ``end_ms < start_ms``
``span_too_long``   ``end_ms > start_ms + 3600000``
``in_future``       ``start_ms`` more than 5 minutes after processing time
``too_old``         ``end_ms`` older than the 7-day late-arrival horizon
``key_mismatch``    the message key is not ``<tenant>/<user>`` of the payload, or
                    the message has no key
``unsigned``        device authentication on (``enforce``) and the event has
                    no ``auth`` member (its signature, :mod:`schemas.auth`)
``bad_signature``   the ``auth`` member is malformed, not the last member, or
                    does not verify for the payload's tenant, host (and user)
``revoked_device``  the signing credential is revoked (its generation is below
                    the floor ``deskpulse device revoke`` set)
=================== =========================================================

The last four are decided by the stream worker (:mod:`streams.core`,
:mod:`streams.auth`), after the checks of :func:`validate_event`.

The stream worker's hot path first tries :func:`parse_valid`: decode and every check
in one C pass (msgspec, into :class:`ValidEvent`, a struct derived from the same
field definitions). It only says "certainly valid" or "not sure": anything it does not
accept (a refusal, but also a ``null`` optional field, an unknown member, an integer
orjson would read as a float...) goes through :func:`decode` and
:func:`validate_event`, which alone give the reasons. So the dead letters are
exactly those of the Python checks, and the common case costs ~1 us instead of ~4.5.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson

from schemas.activity import (
    FUTURE_TOLERANCE_MS,
    LATE_HORIZON_MS,
    MAX_SPAN_MS,
    SCHEMA_ID,
    ActivityEvent,
    domain_of,
)

REASONS = (
    "invalid_json", "not_an_object", "unknown_schema", "missing_field", "wrong_type", "empty",
    "too_long", "bad_format", "negative", "end_before_start", "span_too_long", "in_future",
    "too_old",
)
#: reasons the stream worker adds after validation: attribution (key, device signature)
ATTRIBUTION_REASONS = ("key_mismatch", "unsigned", "bad_signature", "revoked_device")


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a message is not a valid v1 event."""

    reason: str
    detail: str
    field: str = ""


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    kind: type
    required: bool
    min_len: int | None
    max_len: int | None
    pattern: re.Pattern[str] | None
    minimum: int | None
    default: Any


def _rules() -> tuple[_Rule, ...]:
    kinds = {"str": str, "int": int, "bool": bool}
    out = []
    for f in dataclasses.fields(ActivityEvent):
        m = f.metadata
        if f.name == "schema":
            continue  # checked first, on its own
        out.append(_Rule(
            name=f.name,
            kind=kinds[f.type if isinstance(f.type, str) else f.type.__name__],
            required=m["required"],
            min_len=m["min_len"],
            max_len=m["max_len"],
            pattern=re.compile(m["pattern"]) if m["pattern"] else None,
            minimum=m["minimum"],
            default=None if m["required"] else f.default,
        ))
    return tuple(out)


_RULES = _rules()
_FAST = tuple((r.name, r.kind, r.required, r.min_len, r.max_len, r.pattern, r.minimum, r.default, r)
              for r in _RULES)
_JSON_NAMES = {str: "a string", int: "an integer", bool: "a boolean"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _check(rule: _Rule, value: Any) -> Invalid | None:
    kind = rule.kind
    # bool is a subclass of int in Python; JSON true is never an integer here.
    if type(value) is not kind:
        return Invalid("wrong_type", f"{rule.name} must be {_JSON_NAMES[kind]}, "
                                     f"got {_json_type(value)}", rule.name)
    if kind is str:
        if rule.min_len and not value.strip():
            return Invalid("empty", f"{rule.name} must not be empty or blank", rule.name)
        if rule.max_len is not None and len(value) > rule.max_len:
            return Invalid("too_long", f"{rule.name} is {len(value)} characters, "
                                       f"at most {rule.max_len} allowed", rule.name)
        if rule.pattern is not None and not rule.pattern.fullmatch(value):
            return Invalid("bad_format", f"{rule.name} must match {rule.pattern.pattern}",
                           rule.name)
    elif kind is int and rule.minimum is not None and value < rule.minimum:
        return Invalid("negative", f"{rule.name} must be >= {rule.minimum}", rule.name)
    return None


def decode(raw: bytes) -> Any | Invalid:
    """The JSON value of ``raw``, or why it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Invalid("invalid_json", f"not valid JSON: {exc}")


def validate_event(obj: Any, now_ms: int) -> ActivityEvent | Invalid:
    """Check a decoded JSON value against event v1 at processing time ``now_ms``."""
    if not isinstance(obj, dict):
        return Invalid("not_an_object", f"expected a JSON object, got {_json_type(obj)}")
    schema = obj.get("schema")
    if schema != SCHEMA_ID:
        return Invalid("unknown_schema", f"schema must be {SCHEMA_ID!r}, got {schema!r}"[:200],
                       "schema")
    values: dict[str, Any] = {"schema": SCHEMA_ID}
    get = obj.get
    # One pass over precomputed tuples (this runs for every event a worker reads);
    # the first field that fails a cheap test is re-checked by _check for its reason.
    for name, kind, required, min_len, max_len, pattern, minimum, default, rule in _FAST:
        value = get(name)
        if value is None:
            if required:
                return Invalid("missing_field", f"{name} is required", name)
            values[name] = default
            continue
        if type(value) is not kind or (
                (max_len is not None and len(value) > max_len)
                or (min_len and not value.strip())
                or (pattern is not None and not pattern.fullmatch(value))
                if kind is str else
                (minimum is not None and value < minimum)):
            problem = _check(rule, value)
            if problem is not None:
                return problem
        values[name] = value
    start, end = values["start_ms"], values["end_ms"]
    if end < start:
        return Invalid("end_before_start", f"end_ms {end} is before start_ms {start}", "end_ms")
    if end - start > MAX_SPAN_MS:
        return Invalid("span_too_long", f"span of {end - start} ms exceeds {MAX_SPAN_MS} ms",
                       "end_ms")
    if start > now_ms + FUTURE_TOLERANCE_MS:
        return Invalid("in_future", f"start_ms is {start - now_ms} ms after processing time",
                       "start_ms")
    if end < now_ms - LATE_HORIZON_MS:
        return Invalid("too_old", f"end_ms is {now_ms - end} ms before processing time, "
                                  f"older than the {LATE_HORIZON_MS} ms horizon", "end_ms")
    return ActivityEvent(**values)


def parse(raw: bytes, now_ms: int) -> ActivityEvent | Invalid:
    """Decode and validate one raw message."""
    obj = decode(raw)
    if isinstance(obj, Invalid):
        return obj
    return validate_event(obj, now_ms)


# -- the fast path: one C pass for the events that are certainly valid -----------------------

#: orjson reads integers outside [-2**63, 2**64) as floats (then ``wrong_type`` here); msgspec
#: bounds must fit an int64, so integers above 2**63 - 1 take the Python path
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class _ValidEventBase(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    @property
    def domain(self) -> str:
        return domain_of(self.url)  # type: ignore[attr-defined]

    @property
    def key(self) -> bytes:
        return f"{self.tenant}/{self.user}".encode()  # type: ignore[attr-defined]


def _fast_fields() -> list[tuple]:
    """The msgspec fields of :class:`ValidEvent`, from the rules of :data:`_RULES`."""
    out: list[tuple] = [("schema", Literal[SCHEMA_ID])]  # type: ignore[valid-type]
    for r in _RULES:
        meta: dict[str, Any] = {}
        if r.kind is str:
            if r.min_len:
                meta["min_length"] = r.min_len
            if r.max_len is not None:
                meta["max_length"] = r.max_len
            if r.pattern is not None:  # fullmatch, as in _check (msgspec searches)
                meta["pattern"] = rf"\A(?:{r.pattern.pattern})\Z"
        elif r.kind is int:
            meta["ge"] = _INT_MIN if r.minimum is None else max(r.minimum, _INT_MIN)
            meta["le"] = _INT_MAX
        kind = Annotated[r.kind, msgspec.Meta(**meta)] if meta else r.kind
        out.append((r.name, kind) if r.required else (r.name, kind, r.default))
    # the device signature (schemas.auth), checked by the stream worker; any JSON value
    out.append(("auth", Any, None))
    return out


#: a v1 event that passed every check of :func:`validate_event` (same attributes as
#: :class:`~schemas.activity.ActivityEvent`, plus ``auth``: the event's ``auth`` member)
ValidEvent = msgspec.defstruct("ValidEvent", _fast_fields(), bases=(_ValidEventBase,),
                               module=__name__)
_decode_valid = msgspec.json.Decoder(ValidEvent).decode
#: required strings that must not be blank (msgspec checks only their length)
_NOT_BLANK = tuple(r.name for r in _RULES if r.kind is str and r.min_len)


def parse_valid(raw: bytes, now_ms: int) -> Any | None:
    """``raw`` as a :data:`ValidEvent` when it is certainly a valid v1 event; None when it
    may not be (then :func:`decode` and :func:`validate_event` decide, and say why)."""
    try:
        event = _decode_valid(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):  # UnicodeDecodeError: ValueError
        return None
    for name in _NOT_BLANK:
        if getattr(event, name).isspace():
            return None
    start, end = event.start_ms, event.end_ms
    if end < start or end - start > MAX_SPAN_MS or start > now_ms + FUTURE_TOLERANCE_MS or \
            end < now_ms - LATE_HORIZON_MS:
        return None
    return event

"""Payload validation against the bundled schemas (sans-I/O: no trio, no threads).

One compiled validator exists per (version, action, kind, format policy); it is built on first use
and kept for the life of the process, so validating a message costs one cache look-up and one pass
over the payload. Draft-04 schemas (most of 1.6) and draft-06 ones (1.6 security, 2.x) each get
jsonschema's validator for their draft, with one change: ``multipleOf`` compares in decimal, so
that 21.4 is a multiple of 0.1 (binary floating point says it is not) while 4.11 is not.

Format policy (the ``format`` keyword: ``date-time`` and, in 1.6, ``uri``):

- What trio-ocpp *sends* is always checked :attr:`FormatPolicy.STRICT`: RFC 3339 timestamps with a
  ``Z`` or a zone offset, absolute URIs with a scheme.
- What it *receives* is checked with a configurable policy. The default is
  :attr:`FormatPolicy.LENIENT`, because real charge points send ISO 8601 timestamps without a zone;
  LENIENT accepts those (and a fraction of a second, and offsets such as ``+0100``) and checks URIs
  as STRICT does. :attr:`FormatPolicy.OFF` checks no format at all.

A payload that fails its schema raises the OCPP error of CONFORMANCE rule 18, chosen by the keyword
that failed (see ``_ERROR_FOR_KEYWORD``). When several constraints fail, the one reported is the
*shallowest* (fewest steps from the payload's root), ties going to the first in schema order: a
missing top-level field is reported before a bad value deep inside an array. The description names
the action and the field path (``MeterValues request: meterValue[0].sampledValue[1].unit: ...``);
it never echoes more than a few dozen characters of a value and never exceeds 255 characters.
"""

from __future__ import annotations

import calendar
import enum
import functools
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import MAX_PREC, Context, Decimal
from typing import Any, Protocol

import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from . import exceptions
from ._schemas import MessageKind, has_schema, load_schema
from ._versions import OCPPVersion, normalize_version

__all__ = [
    "FormatPolicy",
    "SchemaValidator",
    "get_validator",
    "is_multiple_of",
    "validate",
    "validate_payload",
    "validator_class_for",
]


class FormatPolicy(enum.Enum):
    """How the ``format`` keyword is checked (see the module docstring)."""

    STRICT = "strict"
    LENIENT = "lenient"
    OFF = "off"


class SchemaValidator(Protocol):
    """The part of a compiled jsonschema validator that trio-ocpp uses."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[ValidationError]: ...


class _Message(Protocol):
    """What :func:`validate_payload` needs of a frame (Call, CallResult or Send)."""

    @property
    def message_type_id(self) -> int: ...

    @property
    def action(self) -> str | None: ...

    @property
    def payload(self) -> Any: ...


# --- multipleOf in decimal ------------------------------------------------------------------------

# Enough precision that a remainder never fails for want of digits (1e300 % 0.1 needs 301).
_EXACT = Context(prec=MAX_PREC)


def _as_decimal(number: Any) -> Decimal:
    # repr() of a float is the shortest text that reads back as it: the number the sender wrote.
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def is_multiple_of(number: Any, divisor: Any) -> bool:
    """Whether ``number`` is a multiple of ``divisor``, comparing the decimal numbers as written."""
    value = _as_decimal(number)
    if not value.is_finite():
        return False
    return _EXACT.remainder(value, _as_decimal(divisor)).is_zero()


def _multiple_of(
    validator: Any, divisor: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "number") and not is_multiple_of(instance, divisor):
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


_VALIDATOR_CLASSES: dict[str, Any] = {
    "http://json-schema.org/draft-04/schema#": jsonschema.validators.extend(
        jsonschema.Draft4Validator, {"multipleOf": _multiple_of}
    ),
    "http://json-schema.org/draft-06/schema#": jsonschema.validators.extend(
        jsonschema.Draft6Validator, {"multipleOf": _multiple_of}
    ),
}


def validator_class_for(schema: Mapping[str, Any]) -> Any:
    """The jsonschema validator class (decimal ``multipleOf``) for the draft ``$schema`` names."""
    draft: str = schema.get("$schema", "")
    try:
        return _VALIDATOR_CLASSES[draft]
    except KeyError:
        raise ValueError(f"unsupported JSON Schema draft {draft!r}") from None


# --- formats --------------------------------------------------------------------------------------

# Groups: year, month, day, hour, minute, second, offset hours, offset minutes.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)
# The same, with the zone optional and the offset also as +hh or +hhmm.
_ISO8601 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2})(?::?([0-9]{2}))?)?"
)
# RFC 3986 absolute URI: a scheme, a colon, then only characters a URI may hold.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
)


def _date_time_check(pattern: re.Pattern[str]) -> Callable[[object], bool]:
    def check(instance: object) -> bool:
        if not isinstance(instance, str):
            return True  # the "type" keyword reports non-strings
        match = pattern.fullmatch(instance)
        if match is None:
            return False
        year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
        offset_hours, offset_minutes = match.group(7, 8)
        return (
            1 <= month <= 12
            and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour <= 23
            and minute <= 59
            and second <= 60  # 60: a leap second
            and (offset_hours is None or int(offset_hours) <= 23)
            and (offset_minutes is None or int(offset_minutes) <= 59)
        )

    return check


def _uri_check(instance: object) -> bool:
    return not isinstance(instance, str) or _URI.fullmatch(instance) is not None


def _format_checker(date_time_pattern: re.Pattern[str]) -> Any:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_date_time_check(date_time_pattern))
    checker.checks("uri")(_uri_check)
    return checker


_FORMAT_CHECKERS: dict[FormatPolicy, Any] = {
    FormatPolicy.STRICT: _format_checker(_RFC3339),
    FormatPolicy.LENIENT: _format_checker(_ISO8601),
    FormatPolicy.OFF: None,
}


# --- compiled validators --------------------------------------------------------------------------


def _inline_refs(schema: Mapping[str, Any]) -> Any:
    """A copy of ``schema`` with each local ``$ref`` replaced by the definition it names.

    jsonschema resolves a ``$ref`` anew on every message; inlined, a 2.x payload validates about
    a third faster. Draft 4 and 6 ignore the siblings of ``$ref``, so dropping them changes
    nothing, and no OCPP definition refers to itself, so the copy is finite.
    """
    definitions = schema.get("definitions", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].removeprefix("#/definitions/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


@functools.cache
def _compiled(
    version: OCPPVersion, action: str, kind: MessageKind, formats: FormatPolicy
) -> SchemaValidator:
    # Raising here caches nothing, so unknown action names cannot grow the cache.
    if not has_schema(version, action, kind):
        raise exceptions.NotImplementedError(
            f"{_show(action)} is not a known OCPP {version} action ({kind.value})"
        )
    schema = _inline_refs(load_schema(version, action, kind))
    validator: SchemaValidator = validator_class_for(schema)(
        schema, format_checker=_FORMAT_CHECKERS[formats]
    )
    return validator


def get_validator(
    version: str,
    action: str,
    kind: MessageKind,
    formats: FormatPolicy = FormatPolicy.LENIENT,
) -> SchemaValidator:
    """The compiled validator of one schema (built once, then the same object on every call).

    Raises :class:`trio_ocpp.exceptions.NotImplementedError` when ``version`` has no such action.
    """
    return _compiled(normalize_version(version), action, kind, formats)


def validate(
    version: str,
    action: str,
    kind: MessageKind,
    payload: object,
    *,
    formats: FormatPolicy = FormatPolicy.LENIENT,
) -> None:
    """Check ``payload`` against the schema of ``action``; raise the OCPP error if it fails.

    The error is the 2.x class; the caller spells its code for the connection with ``code_for``.
    """
    validator = get_validator(version, action, kind, formats)
    if not validator.is_valid(payload):
        raise _schema_error(validator.iter_errors(payload), action, kind)


_KIND_OF_MESSAGE_TYPE: dict[int, MessageKind] = {
    2: MessageKind.REQUEST,  # CALL
    3: MessageKind.RESPONSE,  # CALLRESULT
    6: MessageKind.SEND,  # SEND
}


def validate_payload(
    message: _Message, ocpp_version: str, *, formats: FormatPolicy = FormatPolicy.LENIENT
) -> None:
    """Validate the payload of a Call, CallResult or Send (the ``ocpp`` package's function).

    Raises ValueError for a message that has no schema: another message type, or a CallResult
    that does not know the action it answers.
    """
    kind = _KIND_OF_MESSAGE_TYPE.get(message.message_type_id)
    if kind is None:
        raise ValueError(f"message type {message.message_type_id} carries no payload to validate")
    if message.action is None:
        raise ValueError("a CallResult whose action is unknown cannot be validated")
    validate(ocpp_version, message.action, kind, message.payload, formats=formats)


# --- errors ---------------------------------------------------------------------------------------

_ERROR_FOR_KEYWORD: dict[str, type[exceptions.OCPPError]] = {
    "type": exceptions.TypeConstraintViolationError,
    **dict.fromkeys(
        ("required", "minItems", "maxItems"), exceptions.OccurrenceConstraintViolationError
    ),
    **dict.fromkeys(
        (
            "enum",
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
            "format",
            "const",
            "pattern",
        ),
        exceptions.PropertyConstraintViolationError,
    ),
}
# Every other keyword (additionalProperties, additionalItems, ...) is a FormatViolation.

_EXPLANATIONS: dict[str, str] = {
    "type": "{value} is not of type {limit}",
    "enum": "{value} is not one of {limit}",
    "const": "{value} is not {limit}",
    "maxLength": "{value} is too long ({count} characters, at most {limit})",
    "minLength": "{value} is too short ({count} characters, at least {limit})",
    "minItems": "{count} items, at least {limit} required",
    "maxItems": "{count} items, at most {limit} allowed",
    "minimum": "{value} is out of range (minimum {limit})",
    "maximum": "{value} is out of range (maximum {limit})",
    "exclusiveMinimum": "{value} is out of range (exclusive minimum {limit})",
    "exclusiveMaximum": "{value} is out of range (exclusive maximum {limit})",
    "multipleOf": "{value} is not a multiple of {limit}",
    "format": "{value} is not a valid {limit}",
    "pattern": "{value} does not match {limit}",
}

_MAX_DESCRIPTION = 255  # the 2.x limit on a CALLERROR description
_MAX_VALUE_TEXT = 40

# Bounded work even for a huge value: reprlib stops early instead of rendering it all.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = _MAX_VALUE_TEXT
_REPR.maxlist = _REPR.maxdict = 4
_REPR.maxlevel = 2


def _clip(text: str, width: int = _MAX_VALUE_TEXT) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _show(value: object) -> str:
    return _clip(_REPR.repr(value))


def _field_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{_clip(part)}" if text else _clip(part)
    return text or "payload"


def _extra_property(schema: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    declared = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return next(
        name
        for name in instance
        if name not in declared and not any(re.search(p, name) for p in patterns)
    )


def _explain(error: ValidationError) -> tuple[list[str | int], str]:
    """The field the error is about, and what is wrong with it in a few words."""
    keyword: str = error.validator
    path: list[str | int] = list(error.path)
    instance = error.instance
    if keyword == "required":
        missing = next(name for name in error.validator_value if name not in instance)
        return [*path, missing], "required property is missing"
    if keyword == "additionalProperties":
        return [*path, _extra_property(error.schema, instance)], "property is not allowed"
    template = _EXPLANATIONS.get(keyword, "{value} fails {keyword} {limit}")
    count = len(instance) if isinstance(instance, str | list | dict) else 0
    text = template.format(
        value=_show(instance), limit=_show(error.validator_value), count=count, keyword=keyword
    )
    return path, text


def _schema_error(
    errors: Iterator[ValidationError], action: str, kind: MessageKind
) -> exceptions.OCPPError:
    # min() keeps the first of equals: the shallowest error, then schema order.
    error = min(errors, key=lambda e: len(e.path))
    cls = _ERROR_FOR_KEYWORD.get(error.validator, exceptions.FormatViolationError)
    path, text = _explain(error)
    return cls(_clip(f"{action} {kind.value}: {_field_path(path)}: {text}", _MAX_DESCRIPTION))

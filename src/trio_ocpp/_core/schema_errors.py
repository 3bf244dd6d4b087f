"""A schema error as the OCPP error to send: the class by keyword, the description by field.

A payload that fails its schema raises the OCPP error of CONFORMANCE rule 18, chosen by the keyword
that failed (see ``_ERROR_FOR_KEYWORD``). The description names the action and the field path
(``MeterValues request: meterValue[0].sampledValue[1].unit: ...``); it never echoes more than a few
dozen characters of a value (or a property name) and never exceeds 255 characters.
"""

from __future__ import annotations

from collections.abc import Iterable

from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from . import errors
from .frames import MAX_DESCRIPTION
from .logsafe import escape
from .schema_dialect import clip, show, undeclared
from .schemas import MessageKind

__all__ = ["schema_error"]

_ERROR_FOR_KEYWORD: dict[str, type[errors.OCPPError]] = {
    "type": errors.TypeConstraintViolationError,
    **dict.fromkeys(
        ("required", "minItems", "maxItems"), errors.OccurrenceConstraintViolationError
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
        errors.PropertyConstraintViolationError,
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


def _field_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = clip(escape(part))  # the peer's: printable, and encodable when echoed
            text += f".{name}" if text else name
    return text or "payload"


def _explain(error: ValidationError) -> tuple[list[str | int], str]:
    """The field the error is about, and what is wrong with it in a few words."""
    keyword: str = error.validator
    path: list[str | int] = list(error.path)
    instance = error.instance
    if keyword == "required":
        missing = next(name for name in error.validator_value if name not in instance)
        return [*path, missing], "required property is missing"
    if keyword == "additionalProperties":
        return [*path, next(undeclared(error.schema, instance))], "property is not allowed"
    template = _EXPLANATIONS.get(keyword, "{value} fails {keyword} {limit}")
    count = len(instance) if isinstance(instance, str | list | dict) else 0
    text = template.format(
        value=show(instance), limit=show(error.validator_value), count=count, keyword=keyword
    )
    return path, text


def schema_error(error: ValidationError, action: str, kind: MessageKind) -> errors.OCPPError:
    """The OCPP error to raise for ``error``, found in a ``kind`` payload of ``action``."""
    cls = _ERROR_FOR_KEYWORD.get(error.validator, errors.FormatViolationError)
    path, text = _explain(error)
    return cls(clip(f"{action} {kind.value}: {_field_path(path)}: {text}", MAX_DESCRIPTION))

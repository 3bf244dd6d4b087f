"""The JSON Schema dialect payloads are validated in: jsonschema's drafts 4 and 6 with our
``multipleOf`` (decimal: 21.4 is a multiple of 0.1), keywords whose messages show a few characters
of a value rather than all of it, and ``format`` checks as regular expressions that jsonschema
and jsonschema-rs both run (see ``engines`` and ``validation`` for the engines and the format
policies).
"""

from __future__ import annotations

import enum
import re
import reprlib
from collections.abc import Callable, Iterator, Mapping
from decimal import MAX_PREC, Context, Decimal
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

__all__ = [
    "FORMAT_CHECKERS",
    "FORMAT_PATTERNS",
    "FormatPolicy",
    "clip",
    "formats_as_patterns",
    "is_multiple_of",
    "show",
    "undeclared",
    "validator_class_for",
]


class FormatPolicy(enum.Enum):
    """How the ``format`` keyword is checked (see the module docstring)."""

    STRICT = "strict"
    LENIENT = "lenient"
    OFF = "off"


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


# jsonschema's keywords, but for their messages: these put the whole value (a 1 MB array where an
# object belongs) or every extra property, sorted, in the text. Ours show a few characters; the
# descriptions sent are built from the error's fields anyway (schema_errors).


def _type(
    validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    types = types if isinstance(types, list) else [types]
    if not any(validator.is_type(instance, name) for name in types):
        yield ValidationError(f"{show(instance)} is not of type {types}")


def _min_items(
    validator: Any, limit: int, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "array") and len(instance) < limit:
        yield ValidationError(f"{len(instance)} items, at least {limit} required")


def _max_items(
    validator: Any, limit: int, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "array") and len(instance) > limit:
        yield ValidationError(f"{len(instance)} items, at most {limit} allowed")


def undeclared(schema: Mapping[str, Any], instance: Mapping[str, Any]) -> Iterator[str]:
    """The properties of ``instance`` that ``schema`` does not declare, in the instance's order."""
    declared = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for name in instance:
        if name not in declared and not any(re.search(p, name) for p in patterns):
            yield name


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    if validator.is_type(allowed, "object"):
        for extra in undeclared(schema, instance):
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed:
        first = next(undeclared(schema, instance), None)
        if first is not None:
            yield ValidationError(f"{show(first)} is not allowed")


_KEYWORDS: dict[str, Any] = {
    "multipleOf": _multiple_of,
    "type": _type,
    "minItems": _min_items,
    "maxItems": _max_items,
    "additionalProperties": _additional_properties,
}
_VALIDATOR_CLASSES: dict[str, Any] = {
    "http://json-schema.org/draft-04/schema#": jsonschema.validators.extend(
        jsonschema.Draft4Validator, _KEYWORDS
    ),
    "http://json-schema.org/draft-06/schema#": jsonschema.validators.extend(
        jsonschema.Draft6Validator, _KEYWORDS
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

# Each format is one regular expression, matched whole. The same text drives jsonschema's format
# checker here and, as a ``pattern``, jsonschema-rs's own regex engine, so that both engines give
# one verdict without a call back into python for every timestamp.

# A calendar date: each month's days, and 29 February in leap years (every 4th year, but of the
# centuries only every 4th).
_DATE = (
    r"(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
_TIME = r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"  # 60: leap second
_OFFSET_HOURS, _OFFSET_MINUTES = "(?:[01][0-9]|2[0-3])", "[0-5][0-9]"
_RFC3339 = rf"{_DATE}{_TIME}(?:[Zz]|[+-]{_OFFSET_HOURS}:{_OFFSET_MINUTES})"
# The same, with the zone optional and the offset also as +hh or +hhmm.
_ISO8601 = rf"{_DATE}{_TIME}(?:[Zz]|[+-]{_OFFSET_HOURS}(?::?{_OFFSET_MINUTES})?)?"
# RFC 3986 absolute URI: a scheme, a colon, then only characters a URI may hold.
_URI = r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"

FORMAT_PATTERNS: dict[FormatPolicy, dict[str, str]] = {
    FormatPolicy.STRICT: {"date-time": _RFC3339, "uri": _URI},
    FormatPolicy.LENIENT: {"date-time": _ISO8601, "uri": _URI},
    FormatPolicy.OFF: {},
}


def _format_check(pattern: str) -> Callable[[object], bool]:
    matcher = re.compile(pattern)

    def check(instance: object) -> bool:
        # Non-strings pass: the "type" keyword reports them.
        return not isinstance(instance, str) or matcher.fullmatch(instance) is not None

    return check


def _format_checker(patterns: Mapping[str, str]) -> Any:
    if not patterns:
        return None
    checker = jsonschema.FormatChecker(formats=())
    for name, pattern in patterns.items():
        checker.checks(name)(_format_check(pattern))
    return checker


FORMAT_CHECKERS: dict[FormatPolicy, Any] = {
    policy: _format_checker(patterns) for policy, patterns in FORMAT_PATTERNS.items()
}


def formats_as_patterns(node: Any, patterns: Mapping[str, str]) -> Any:
    """A copy of a schema with each ``format`` it checks turned into an anchored ``pattern``."""
    if isinstance(node, list):
        return [formats_as_patterns(item, patterns) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: formats_as_patterns(value, patterns) for key, value in node.items()}
    keyword = copy.get("format")  # a dict here is the schema of a property named "format"
    pattern = patterns.get(keyword) if isinstance(keyword, str) else None
    if pattern is not None:
        if "pattern" in copy:
            raise ValueError("a schema with both format and pattern in one place")
        del copy["format"]
        copy["pattern"] = f"^(?:{pattern})$"
    return copy


_MAX_VALUE_TEXT = 40

# Bounded work even for a huge value: reprlib stops early instead of rendering it all.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = _MAX_VALUE_TEXT
_REPR.maxlist = _REPR.maxdict = 4
_REPR.maxlevel = 2


def clip(text: str, width: int = _MAX_VALUE_TEXT) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def show(value: object) -> str:
    return clip(_REPR.repr(value))

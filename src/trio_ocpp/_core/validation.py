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

Two engines check payloads. jsonschema is the reference: it always decides what is invalid and
why. jsonschema-rs, a compiled validator installed by default, answers the yes/no question some
50 to 500 times faster; a payload it accepts is valid, and anything it rejects or cannot read
(a lone surrogate, a value that is not JSON) goes to jsonschema, which has the last word and
names the error. So verdicts and errors are jsonschema's for any JSON payload, and jsonschema-rs
only makes the valid ones cheap. It is given the same format checks (they are python callables);
its ``multipleOf`` compares decimals as we do (the equivalence tests hold it to that). Python
values that are not JSON are the one gap: jsonschema-rs reads a tuple as an array and a Decimal
as a number, which jsonschema rejects; neither can come from a received frame, and neither can be
sent. Without jsonschema-rs, or with ``TRIO_OCPP_VALIDATOR=jsonschema`` in the environment, or
:func:`set_validation_engine`, jsonschema does all the work.

A payload that fails its schema raises the OCPP error of CONFORMANCE rule 18, chosen by the keyword
that failed (see ``_ERROR_FOR_KEYWORD``). When several constraints fail, the one reported is the
*first* met by a check that goes from the root down, each value's own constraints (type, required,
additionalProperties, enum, lengths, ranges) before those of its members, objects' members in
schema order (then undeclared ones in the object's order) and arrays' items in order: a missing
top-level field is reported before a bad value inside an array, and the first bad item of an
array before the others. Both engines pick the same one, and finding it costs no more than
validating (CONFORMANCE 41): the search stops there and never lists all the errors; with
jsonschema-rs, jsonschema-rs leads it past the valid parts (see ``_Compiled``).
The description names the action and the field path
(``MeterValues request: meterValue[0].sampledValue[1].unit: ...``); it never echoes more than a few
dozen characters of a value (or a property name) and never exceeds 255 characters.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Protocol

from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - it is a dependency; this is the fallback
    jsonschema_rs = None  # type: ignore[assignment]

from .. import exceptions
from .logsafe import escape
from .schema_dialect import (
    FORMAT_CHECKERS,
    FORMAT_PATTERNS,
    FormatPolicy,
    clip,
    formats_as_patterns,
    is_multiple_of,
    show,
    undeclared,
    validator_class_for,
)
from .schemas import MessageKind, has_schema, load_schema, resolve_ref
from .versions import OCPPVersion, normalize_version

__all__ = [
    "ENGINES",
    "FormatPolicy",
    "SchemaValidator",
    "check",
    "get_validator",
    "is_multiple_of",
    "set_validation_engine",
    "validate",
    "validate_payload",
    "validation_engine",
    "validator_class_for",
]


class SchemaValidator(Protocol):
    """A compiled schema: jsonschema's ``is_valid`` and ``iter_errors``, and the first error."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[ValidationError]: ...

    def first_error(self, instance: object) -> ValidationError | None:
        """The error to report (module docstring), or None for a valid instance."""


class _Message(Protocol):
    """What :func:`validate_payload` needs of a frame (Call, CallResult or Send)."""

    @property
    def message_type_id(self) -> int: ...

    @property
    def action(self) -> str | None: ...

    @property
    def payload(self) -> Any: ...


# --- compiled validators --------------------------------------------------------------------------


def _inline_refs(schema: Mapping[str, Any]) -> Any:
    """A copy of ``schema`` with each local ``$ref`` replaced by the definition it names.

    jsonschema resolves a ``$ref`` anew on every message; inlined, a 2.x payload validates about
    a third faster. Draft 4 and 6 ignore the siblings of ``$ref``, so dropping them changes
    nothing, and no OCPP definition refers to itself, so the copy is finite.
    """

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(resolve_ref(schema, node))
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


# Keywords that check a value's members; every other one checks the value itself.
_MEMBER_KEYWORDS: Final = frozenset(
    {"properties", "patternProperties", "items", "additionalItems", "dependencies"}
    | {"allOf", "anyOf", "oneOf", "not"}
)


def _is_member_keyword(key: str, value: Any) -> bool:
    return key in _MEMBER_KEYWORDS or (key == "additionalProperties" and isinstance(value, dict))


def _own_constraints_first(schema: Any) -> Any:
    """A copy of a schema whose every node lists its own keywords before those of its members
    (and additionalProperties after properties): jsonschema checks them in the schema's order."""
    if not isinstance(schema, dict):
        return schema
    own: dict[str, Any] = {}
    members: dict[str, Any] = {}
    for key, value in schema.items():
        if not _is_member_keyword(key, value):
            own[key] = value
        elif key in ("properties", "patternProperties", "dependencies"):
            members[key] = {name: _own_constraints_first(sub) for name, sub in value.items()}
        elif isinstance(value, list):
            members[key] = [_own_constraints_first(sub) for sub in value]
        else:
            members[key] = _own_constraints_first(value)
    extra = members.pop("additionalProperties", None)
    if extra is not None:
        members["additionalProperties"] = extra
    return own | members


#: The validation engines, fastest first: the default is the first one that can be imported.
ENGINES: Final = ("jsonschema-rs", "jsonschema")
_ENGINE_VARIABLE: Final = "TRIO_OCPP_VALIDATOR"


def _available(engine: str) -> bool:
    return engine == "jsonschema" or jsonschema_rs is not None


_engine: str


def set_validation_engine(engine: str | None) -> None:
    """Validate with ``"jsonschema-rs"`` or ``"jsonschema"``; None restores the default.

    Raises ValueError for another name and ImportError when jsonschema-rs is asked for and is
    not installed. Errors are the same with either engine (see the module docstring). A
    ChargePoint keeps the engine that was in use when it was made.
    """
    global _engine
    if engine is None:
        engine = next(e for e in ENGINES if _available(e))
    elif engine not in ENGINES:
        raise ValueError(f"unknown validation engine {engine!r}; expected one of {ENGINES}")
    elif not _available(engine):
        raise ImportError(f"the {engine} validation engine is not installed")
    _engine = engine


set_validation_engine(os.environ.get(_ENGINE_VARIABLE) or None)


def validation_engine() -> str:
    """The engine in use: ``"jsonschema-rs"`` or ``"jsonschema"``."""
    return _engine


class _Reference:
    """One schema's jsonschema validator (the ``jsonschema`` engine)."""

    __slots__ = ("reference",)

    def __init__(self, reference: Any) -> None:
        self.reference = reference

    def is_valid(self, instance: object) -> bool:
        return self.reference.is_valid(instance)  # type: ignore[no-any-return]

    def iter_errors(self, instance: object) -> Iterator[ValidationError]:
        return self.reference.iter_errors(instance)  # type: ignore[no-any-return]

    def first_error(self, instance: object) -> ValidationError | None:
        # The schema lists each node's own constraints first (_own_constraints_first).
        return next(self.reference.iter_errors(instance), None)

    def validate(self, instance: object) -> None:
        """jsonschema's ``validate``: what the ``ocpp`` package's validators offer (its
        ``get_validator``, ``trio_ocpp.messages``)."""
        self.reference.validate(instance)


class _Compiled(_Reference):
    """jsonschema, and jsonschema-rs to accept quickly and to lead jsonschema to the first error.

    The first error is jsonschema's (the same one as with jsonschema alone), found without a walk
    through the valid parts in python: from the root down, jsonschema checks a value's own
    constraints, and jsonschema-rs, one check per member (a bisection for array items), finds the
    first member that fails, where the search goes on. jsonschema-rs validators of the schema's
    parts are built on first need and kept, like the whole schema's.
    """

    __slots__ = ("_draft", "_fast_parts", "_own", "_patterns", "fast")

    def __init__(self, reference: Any, fast: Any, patterns: Mapping[str, str]) -> None:
        super().__init__(reference)
        self.fast = fast
        self._draft = reference.schema["$schema"]
        self._patterns = patterns
        self._fast_parts: dict[tuple[int, bool], Any] = {}  # (id of a part, as items) -> validator
        self._own: dict[int, Any] = {}  # id of a part -> jsonschema of its own constraints

    def is_valid(self, instance: object) -> bool:
        try:
            if self.fast.is_valid(instance):
                return True
        except ValueError:  # not JSON to it (UnicodeEncodeError is a ValueError too)
            return self.reference.is_valid(instance)  # type: ignore[no-any-return]
        return self.first_error(instance) is None

    def first_error(self, instance: object) -> ValidationError | None:
        try:
            if self.fast.is_valid(instance):
                return None
            return self._search(instance)
        except ValueError:  # not JSON to jsonschema-rs, maybe only in a part it had not read
            return super().first_error(instance)

    def _search(self, instance: Any) -> ValidationError | None:
        schema, value = self.reference.schema, instance
        path: list[str | int] = []
        while True:
            error = next(self._own_constraints(schema).iter_errors(value), None)
            if error is not None:
                error.path.extendleft(reversed(path))
                return error
            member = self._first_bad_member(schema, value)
            if member is None:
                # A keyword the search does not follow (no OCPP schema has one), or the engines
                # disagree: jsonschema decides, from the root.
                return super().first_error(instance)
            part, schema = member
            value = value[part]
            path.append(part)

    def _own_constraints(self, schema: Mapping[str, Any]) -> Any:
        own = self._own.get(id(schema))
        if own is None:
            # Without $schema: evolve() would pick jsonschema's own class for the draft it names.
            part = {
                k: v for k, v in schema.items() if k != "$schema" and not _is_member_keyword(k, v)
            }
            for key in ("properties", "patternProperties"):  # what additionalProperties reads
                if key in schema:
                    part[key] = {name: {} for name in schema[key]}
            own = self._own[id(schema)] = self.reference.evolve(schema=part)
        return own

    def _fast_valid(self, schema: Any, value: Any, items: bool = False) -> bool:
        """jsonschema-rs's verdict on ``value`` against ``schema`` (against ``{"items": schema}``
        when ``items``)."""
        fast = self._fast_parts.get((id(schema), items))
        if fast is None:
            part = {"items": schema} if items else schema
            fast = self._fast_parts[(id(schema), items)] = jsonschema_rs.validator_for(
                {**formats_as_patterns(part, self._patterns), "$schema": self._draft},
                validate_formats=False,
            )
        valid: bool = fast.is_valid(value)
        return valid

    def _first_bad_member(self, schema: Any, value: Any) -> tuple[str | int, Any] | None:
        """The first member of ``value`` failing its part of ``schema``, in jsonschema's order."""
        if isinstance(value, dict):
            for name, part in schema.get("properties", {}).items():
                if name in value and not self._fast_valid(part, value[name]):
                    return name, part
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                for name in undeclared(schema, value):
                    if not self._fast_valid(extra, value[name]):
                        return name, extra
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            part = schema["items"]
            # Bisection: the first bad item in about two checks of the whole array.
            low, high = 0, len(value)
            if self._fast_valid(part, value, items=True):
                return None
            while high - low > 1:
                middle = (low + high) // 2
                if self._fast_valid(part, value[low:middle], items=True):
                    low = middle
                else:
                    high = middle
            return low, part
        return None


@functools.cache
def _compiled(
    version: OCPPVersion, action: str, kind: MessageKind, formats: FormatPolicy, engine: str
) -> SchemaValidator:
    # Raising here caches nothing, so unknown action names cannot grow the cache.
    if not has_schema(version, action, kind):
        raise exceptions.NotImplementedError(
            f"{show(action)} is not a known OCPP {version} action ({kind.value})"
        )
    schema = load_schema(version, action, kind)
    inlined = _own_constraints_first(_inline_refs(schema))
    reference = validator_class_for(inlined)(inlined, format_checker=FORMAT_CHECKERS[formats])
    if engine == "jsonschema":
        return _Reference(reference)
    patterns = FORMAT_PATTERNS[formats]
    fast = jsonschema_rs.validator_for(
        formats_as_patterns(schema, patterns), validate_formats=False
    )
    return _Compiled(reference, fast, patterns)


def get_validator(
    version: str,
    action: str,
    kind: MessageKind,
    formats: FormatPolicy = FormatPolicy.LENIENT,
    engine: str | None = None,
) -> SchemaValidator:
    """The compiled validator of one schema for ``engine``, by default the one in use (built
    once, then the same object on every call).

    Raises :class:`trio_ocpp.exceptions.NotImplementedError` when ``version`` has no such action.
    """
    return _compiled(normalize_version(version), action, kind, formats, engine or _engine)


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
    check(get_validator(version, action, kind, formats), action, kind, payload)


def check(validator: SchemaValidator, action: str, kind: MessageKind, payload: object) -> None:
    """:func:`validate` with the validator already looked up (the runtime keeps them)."""
    error = validator.first_error(payload)
    if error is not None:
        raise _schema_error(error, action, kind)


_KIND_OF_MESSAGE_TYPE: dict[int, MessageKind] = {
    2: MessageKind.REQUEST,  # CALL
    3: MessageKind.RESPONSE,  # CALLRESULT
    6: MessageKind.SEND,  # SEND
}


def validate_payload(
    message: _Message, ocpp_version: str, *, formats: FormatPolicy = FormatPolicy.LENIENT
) -> None:
    """Validate the payload of a Call, CallResult or Send (the ``ocpp`` package's function).

    Raises :class:`~trio_ocpp.exceptions.ValidationError` (a ValueError) for a message that has
    no schema: another message type, or a CallResult that does not know the action it answers.
    """
    kind = _KIND_OF_MESSAGE_TYPE.get(message.message_type_id)
    if kind is None:
        raise exceptions.ValidationError(
            f"message type {message.message_type_id} carries no payload to validate"
        )
    if message.action is None:
        raise exceptions.ValidationError("a CallResult whose action is unknown cannot be validated")
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


def _schema_error(error: ValidationError, action: str, kind: MessageKind) -> exceptions.OCPPError:
    cls = _ERROR_FOR_KEYWORD.get(error.validator, exceptions.FormatViolationError)
    path, text = _explain(error)
    return cls(clip(f"{action} {kind.value}: {_field_path(path)}: {text}", _MAX_DESCRIPTION))

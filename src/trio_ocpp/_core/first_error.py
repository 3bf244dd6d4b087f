"""The compiled validator of each engine, and its search for the one error to report.

When several constraints fail, the one reported is the *first* met by a check that goes from the
root down, each value's own constraints (type, required, additionalProperties, enum, lengths,
ranges) before those of its members, objects' members in schema order (then undeclared ones in
the object's order) and arrays' items in order: a missing top-level field is reported before a
bad value inside an array, and the first bad item of an array before the others. Both engines
pick the same one, and finding it costs no more than validating (CONFORMANCE 41): the search stops
there and never lists all the errors; with jsonschema-rs, jsonschema-rs leads it past the valid
parts (see :class:`CompiledValidator`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, Protocol

from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - it is a dependency; this is the fallback
    jsonschema_rs = None  # type: ignore[assignment]

from .schema_dialect import formats_as_patterns, undeclared
from .schema_prep import is_member_keyword

__all__ = ["HAS_JSONSCHEMA_RS", "CompiledValidator", "ReferenceValidator", "SchemaValidator"]

#: Whether jsonschema-rs can be imported: without it, only :class:`ReferenceValidator` is made.
HAS_JSONSCHEMA_RS: Final = jsonschema_rs is not None


class SchemaValidator(Protocol):
    """A compiled schema: jsonschema's ``is_valid`` and ``iter_errors``, and the first error."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[ValidationError]: ...

    def first_error(self, instance: object) -> ValidationError | None:
        """The error to report (module docstring), or None for a valid instance."""


class ReferenceValidator:
    """One schema's jsonschema validator (the ``jsonschema`` engine)."""

    __slots__ = ("reference",)

    def __init__(self, reference: Any) -> None:
        self.reference = reference

    def is_valid(self, instance: object) -> bool:
        return self.reference.is_valid(instance)  # type: ignore[no-any-return]

    def iter_errors(self, instance: object) -> Iterator[ValidationError]:
        return self.reference.iter_errors(instance)  # type: ignore[no-any-return]

    def first_error(self, instance: object) -> ValidationError | None:
        # The schema lists each node's own constraints first (schema_prep.prepare).
        return next(self.reference.iter_errors(instance), None)

    def validate(self, instance: object) -> None:
        """jsonschema's ``validate``: what the ``ocpp`` package's validators offer (its
        ``get_validator``, ``trio_ocpp.messages``)."""
        self.reference.validate(instance)


class CompiledValidator(ReferenceValidator):
    """jsonschema, and jsonschema-rs to accept quickly and to lead jsonschema to the first error.

    The first error is jsonschema's (the same one as with jsonschema alone), found without a walk
    through the valid parts in python: from the root down, jsonschema checks a value's own
    constraints, and jsonschema-rs, one check per member (a bisection for array items), finds the
    first member that fails, where the search goes on. jsonschema-rs validators of the schema's
    parts are built on first need and kept, like the whole schema's.
    """

    __slots__ = ("_draft", "_fast_parts", "_own", "_patterns", "fast")

    def __init__(
        self, reference: Any, schema: Mapping[str, Any], patterns: Mapping[str, str]
    ) -> None:
        """``reference`` validates the prepared schema; jsonschema-rs gets ``schema`` as it is
        (it resolves references once, when it builds)."""
        super().__init__(reference)
        self.fast = jsonschema_rs.validator_for(
            formats_as_patterns(schema, patterns), validate_formats=False
        )
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
                k: v for k, v in schema.items() if k != "$schema" and not is_member_keyword(k, v)
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

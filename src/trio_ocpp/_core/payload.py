"""Runtime of the generated message model: payload objects to wire dicts and back.

The classes of ``trio_ocpp.<version>.call``, ``.call_result`` and ``.datatypes`` are dataclasses
as in the ``ocpp`` package: the same fields in the same order with the same defaults, so that
positional arguments, ``dataclasses.asdict``, ``replace``, ``fields`` and ``vars`` work as there.
Their field names are the python names of the casing table. Renaming between wire and python
names is the job of :mod:`trio_ocpp._core.casing` alone, guided by the message's schema; this
module adds what objects need on top, from a plan made once per class on first use:

- :meth:`Payload.to_wire`: the fields as a python-shaped dict, handed to ``payload_to_wire``, which
  drops None at every depth, turns enum members into their values, and reaches nested datatypes
  objects through their ``__ocpp_wire__`` hook. So a nested value may be a datatypes object or a
  dict with python names, and an enum value a member or a plain string, as with the ``ocpp``
  package.
- :meth:`Payload.from_wire`: ``payload_to_python``, which gives nested objects as dicts with python
  names and enum values as plain strings (equal to the members), as the ``ocpp`` package does.
  ``typed=True`` then makes datatypes objects and enum members of them, following the class's
  ``__ocpp_types__`` (field -> datatypes class or enum); a value that no member has stays a string.

Aliases: where the ``ocpp`` package spells a field otherwise (2.1 Authorize
``iso_15118_certificate_hash_data`` for our ``iso15118_certificate_hash_data``), the generated
class is decorated with :func:`aliases`, so that it takes that spelling as a keyword argument and
answers to it as an attribute; the field keeps its one canonical name (``fields``, ``asdict``,
``repr`` and ``replace`` know that one only).

Keys that a type does not have: in dicts they are kept as the sender wrote them (casing renames
only declared names). An object type whose schema allows more keys (2.x ``CustomDataType``, for
vendor extensions) keeps them, unchanged, in its ``extra`` field. Any other class rejects them
when an object is made, with the TypeError of ``__init__`` naming the key: a wire dict that
passed schema validation has none, and dropping data silently would hide the sender's mistake.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import attrs

from .casing import PLAIN, Plan, message_plan, object_to_python, object_to_wire, value_to_wire
from .schemas import MessageKind
from .versions import PACKAGES, OCPPVersion, normalize_version

__all__ = ["Payload", "Record", "aliases", "field_values", "payload_class"]

Convert = Callable[[Any], Any]
R = TypeVar("R", bound="type[Record]")


class Record:
    """Base of the generated classes: an object of an OCPP JSON schema."""

    # Every subclass is a dataclass; this tells type checkers so (dataclasses.fields() and
    # asdict() accept them).
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    #: The fields whose values are datatypes objects or enum members in typed form.
    __ocpp_types__: ClassVar[tuple[tuple[str, type[Any]], ...]] = ()
    #: The schema allows keys beyond the fields; the class then has an ``extra`` dict field.
    __ocpp_open__: ClassVar[bool] = False
    #: alias -> field, set by :func:`aliases`.
    __ocpp_aliases__: ClassVar[Mapping[str, str]] = {}

    def __ocpp_wire__(self) -> dict[str, Any]:
        """The object as a dict of plain values by python name, which payload_to_wire renames.

        Nested objects and enum members are made plain here, where their types are known, so
        that the renaming pass meets only dicts, lists and JSON scalars.
        """
        plan = _plan(type(self))
        values = {}
        for name, convert in plan.to_plain:
            value = getattr(self, name)
            if value is not None:
                values[name] = value if convert is None else convert(value)
        if plan.open:
            extra = values.pop("extra", None)
            if extra:
                return {**extra, **values}
        return values


class Payload(Record):
    """Base of the message classes (``call.X``, ``call_result.X``): which message each is."""

    __ocpp_version__: ClassVar[OCPPVersion]
    __ocpp_action__: ClassVar[str]
    __ocpp_kind__: ClassVar[MessageKind]

    def to_wire(self) -> dict[str, Any]:
        """The wire (JSON) form: wire names, no None at any depth, enums as their values."""
        steps = _wire_steps(type(self))
        if steps is None:  # fields its schema does not name (an ``extra``, a subclass's own)
            message = self.__ocpp_version__, self.__ocpp_action__, self.__ocpp_kind__
            return object_to_wire(self.__ocpp_wire__(), message_plan(*message))
        # object_to_wire(self.__ocpp_wire__(), plan) in one pass: each field read, renamed and
        # made plain once (value_to_wire makes enums, datatypes and lists plain as
        # __ocpp_wire__ would), without the dict of python names in between. Every reply
        # a handler returns as an object goes this way.
        out = {}
        for name, wire, plan in steps:
            value = getattr(self, name)
            if value is not None:
                out[wire] = value if type(value) in PLAIN else value_to_wire(value, plan)
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any], *, typed: bool = False) -> Self:
        """Make the object of a wire payload (see the module docstring for ``typed``)."""
        message = cls.__ocpp_version__, cls.__ocpp_action__, cls.__ocpp_kind__
        values = object_to_python(data, message_plan(*message))  # payload_to_python, as above
        return cls(**(_plan(cls).typed(values) if typed else values))


def aliases(**names: str) -> Callable[[R], R]:
    """Class decorator: ``alias="field"``, second spellings that the class takes as keyword
    arguments and answers to as attributes (the field has one name, shown by ``repr``)."""

    def decorate(cls: R) -> R:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Record, *args: Any, **kwargs: Any) -> None:
            for alias, name in names.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{cls.__name__}() got {name!r} and its alias {alias!r}")
                    kwargs[name] = kwargs.pop(alias)
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[method-assign, assignment]
        for alias, name in names.items():
            setattr(cls, alias, property(operator.attrgetter(name), doc=f"``{name}``"))
        cls.__ocpp_aliases__ = names
        return cls

    return decorate


def field_values(obj: Record) -> dict[str, Any]:
    """The fields of ``obj`` by name, as they are (``asdict`` without copying nested values)."""
    return {name: getattr(obj, name) for name, _ in _plan(type(obj)).to_plain}


@attrs.frozen
class _Plan:
    fields: frozenset[str]  # every attribute, ``extra`` included
    open: bool
    to_plain: tuple[tuple[str, Convert | None], ...]  # every attribute, and how to make it plain
    to_typed: tuple[tuple[str, Convert], ...]  # the attributes that have a typed form

    def typed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Turn python-shaped values (fresh from payload_to_python) into typed ones, in place."""
        for name, convert in self.to_typed:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        if self.open:
            extra = {key: value for key, value in values.items() if key not in self.fields}
            for key in extra:
                del values[key]
            if extra:
                values["extra"] = extra
        return values


_PLANS: dict[type[Record], _Plan] = {}
#: Per message class: (field, wire name, the value's renaming plan) of each field, in order;
#: None where the schema does not name every field (an ``extra``, a subclass's own fields).
_WIRE_STEPS: dict[type[Payload], tuple[tuple[str, str, Plan | None], ...] | None] = {}


def _wire_steps(cls: type[Payload]) -> tuple[tuple[str, str, Plan | None], ...] | None:
    try:
        return _WIRE_STEPS[cls]
    except KeyError:
        renames = message_plan(cls.__ocpp_version__, cls.__ocpp_action__, cls.__ocpp_kind__)
        names = [name for name, _ in _plan(cls).to_plain]
        steps = None
        if all(name in renames.to_wire for name in names):
            steps = tuple((name, *renames.to_wire[name]) for name in names)
        _WIRE_STEPS[cls] = steps
        return steps


def _plan(cls: type[Record]) -> _Plan:
    try:
        return _PLANS[cls]
    except KeyError:
        types = dict(cls.__ocpp_types__)
        names = [field.name for field in dataclasses.fields(cls)]
        plan = _PLANS[cls] = _Plan(
            fields=frozenset(names),
            open=cls.__ocpp_open__,
            to_plain=tuple(
                (name, _to_plain(types[name]) if name in types else None) for name in names
            ),
            to_typed=tuple((name, _to_typed(target)) for name, target in types.items()),
        )
        return plan


def _each(one: Convert) -> Convert:
    """Convert a value, or each item of a list of them."""

    def convert(value: Any) -> Any:
        return [one(item) for item in value] if isinstance(value, list | tuple) else one(value)

    return convert


def _to_plain(target: type[Any]) -> Convert:
    if issubclass(target, enum.Enum):
        return _each(_enum_value)
    return _each(_record_to_plain)


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _record_to_plain(value: Any) -> Any:
    # A dict given for an object is left to payload_to_wire, which renames and cleans it.
    return value.__ocpp_wire__() if isinstance(value, Record) else value


def _to_typed(target: type[Any]) -> Convert:
    # A value of the wrong JSON type (possible only when validation was skipped) is kept as it
    # is: reporting it is the job of schema validation.
    one: Convert
    if issubclass(target, enum.Enum):
        members = {member.value: member for member in target}

        def one(value: Any) -> Any:
            return members.get(value, value) if isinstance(value, str) else value

    else:

        def one(value: Any) -> Any:
            return target(**_plan(target).typed(value)) if isinstance(value, dict) else value

    return _each(one)


@functools.cache
def _registry(version: OCPPVersion) -> dict[tuple[str, MessageKind], type[Payload]]:
    registry = {}
    # The generated classes, found by name: they import this module.
    for module_name in ("call", "call_result"):
        module = importlib.import_module(f"trio_ocpp.{PACKAGES[version]}.{module_name}")
        for name in module.__all__:
            cls = getattr(module, name)
            registry[cls.__ocpp_action__, cls.__ocpp_kind__] = cls
    return registry


def payload_class(version: str, action: str, kind: MessageKind) -> type[Payload]:
    """The generated class of one message, e.g. ``("2.0.1", "BootNotification", REQUEST)``."""
    ocpp_version = normalize_version(version)
    try:
        return _registry(ocpp_version)[action, kind]
    except KeyError:
        raise LookupError(f"OCPP {ocpp_version} has no {kind.value} {action!r}") from None

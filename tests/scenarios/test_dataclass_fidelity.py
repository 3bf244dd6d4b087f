"""Our payload classes against the ``ocpp`` package's (2.1.0), class by class in ``call``,
``call_result`` and ``datatypes`` of each version: both are dataclasses with the same fields in
the same order and the same defaults, so that ported code constructing them positionally, or
reading them with ``asdict``, ``astuple``, ``replace``, ``fields``, ``vars`` or ``repr``, sees
the same thing. The differences are the ones listed below, each with its reason (README.md's
porting guide says the same)."""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from typing import Any

import pytest

MODULES = [f"{v}.{m}" for v in ("v16", "v201", "v21") for m in ("call", "call_result", "datatypes")]

#: Fields of ours that the ocpp package's class lacks, where, and why. They come last, so that
#: positional arguments mean the same, and default to None.
EXTRA_FIELDS = {
    "extra": "an object type whose schema allows more keys (2.x CustomDataType) keeps the "
    "vendor's keys in it; the ocpp package renames and drops them",
    "custom_data": "the 2.0.1 schemas give every object type customData; the ocpp package's "
    "2.0.1 datatypes (unlike its messages and its 2.1 datatypes) lack it",
}

#: Fields the ocpp package spells otherwise in that class: ours is the field (the casing table's
#: name, one for every version), and the class takes theirs as keyword argument and attribute.
RENAMED = {
    "v201.datatypes.IdTokenInfoType.language_1": "language1",
    "v201.datatypes.IdTokenInfoType.language_2": "language2",
    "v21.call.Authorize.iso_15118_certificate_hash_data": "iso15118_certificate_hash_data",
    "v21.call.Get15118EVCertificate.iso_15118_schema_version": "iso15118_schema_version",
}

#: Fields the ocpp package requires although the schema leaves them optional: here they default
#: to None, so that an object can be made of every valid message (a typed handler's request).
OPTIONAL_HERE = {
    "v16.call.LogStatusNotification.request_id": "optional in the 1.6 security schema",
    "v16.call.SecurityEventNotification.tech_info": "optional in the 1.6 security schema",
    "v16.call.SignedFirmwareStatusNotification.request_id": "optional in the 1.6 security schema",
}


def pairs(module: str) -> list[tuple[type[Any], type[Any]]]:
    """(ours, theirs) for every dataclass the ocpp package's module defines."""
    theirs = importlib.import_module(f"ocpp.{module}")
    ours = importlib.import_module(f"trio_ocpp.{module}")
    return [
        (getattr(ours, name), cls)
        for name, cls in vars(theirs).items()
        if dataclasses.is_dataclass(cls) and cls.__module__ == theirs.__name__
    ]


def their_names(module: str, ours: type[Any], theirs: type[Any]) -> dict[str, str]:
    """Our field name -> theirs, for the fields both have."""
    names = {}
    for field in dataclasses.fields(theirs):
        renamed = RENAMED.get(f"{module}.{theirs.__name__}.{field.name}")
        if renamed is not None:
            assert ours.__ocpp_aliases__[field.name] == renamed  # their spelling is accepted
        names[renamed or field.name] = field.name
    return names


def extra_fields(module: str, ours: type[Any], theirs: type[Any]) -> list[str]:
    names = their_names(module, ours, theirs)
    return [f.name for f in dataclasses.fields(ours) if f.name not in names]


def default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def test_the_listed_differences_have_reasons() -> None:
    assert all(len(reason) > 20 for reason in [*EXTRA_FIELDS.values(), *OPTIONAL_HERE.values()])


@pytest.mark.parametrize("module", MODULES)
def test_same_fields_in_the_same_order_with_the_same_defaults(module: str) -> None:
    checked = 0
    for ours, theirs in pairs(module):
        assert dataclasses.is_dataclass(ours) and isinstance(ours, type)
        names = their_names(module, ours, theirs)
        extra = extra_fields(module, ours, theirs)
        allowed = {"extra"} if ours.__ocpp_open__ else set()
        if module == "v201.datatypes":
            allowed.add("custom_data")
        assert set(extra) <= allowed, ours
        fields = [f for f in dataclasses.fields(ours) if f.name not in extra]
        # The extra fields come last: positional arguments mean the same.
        assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in fields] + extra
        assert [names[f.name] for f in fields] == [f.name for f in dataclasses.fields(theirs)]
        assert all(default(f) is None for f in dataclasses.fields(ours) if f.name in extra)
        for ours_field, their_field in zip(fields, dataclasses.fields(theirs), strict=True):
            key = f"{module}.{theirs.__name__}.{their_field.name}"
            if key in OPTIONAL_HERE:
                assert (default(ours_field), default(their_field)) == (None, dataclasses.MISSING)
            else:
                assert default(ours_field) == default(their_field), key
            checked += 1
    assert checked > 40


def values(cls: type[Any], prefix: str) -> list[str]:
    """One distinct value per field: what positional construction passes."""
    return [f"{prefix}{cls.__name__}.{field.name}" for field in dataclasses.fields(cls)]


def shape(name: str, items: list[tuple[str, Any]]) -> str:
    return f"{name}({', '.join(f'{field}={value!r}' for field, value in items)})"


@pytest.mark.parametrize("module", MODULES)
def test_positional_construction_gives_the_same_object(module: str) -> None:
    for ours_cls, theirs_cls in pairs(module):
        args = values(theirs_cls, "")
        ours, theirs = ours_cls(*args), theirs_cls(*args)
        names = their_names(module, ours_cls, theirs_cls)
        extra = extra_fields(module, ours_cls, theirs_cls)
        assert {name: getattr(ours, name) for name in names} == {
            name: getattr(theirs, their) for name, their in names.items()
        }
        assert dataclasses.astuple(ours) == dataclasses.astuple(theirs) + (None,) * len(extra)
        assert vars(ours) == {f.name: getattr(ours, f.name) for f in dataclasses.fields(ours)}
        # The same repr but for our names of the fields and our extra fields.
        assert ours_cls.__qualname__ == theirs_cls.__qualname__
        their_items = [(their, getattr(theirs, their)) for their in names.values()]
        assert repr(theirs) == shape(theirs_cls.__qualname__, their_items)
        our_items = [(name, getattr(ours, name)) for name in [*names, *extra]]
        assert repr(ours) == shape(theirs_cls.__qualname__, our_items)
        assert ours_cls.__match_args__ == (*names, *extra)  # positional patterns in `match`
        assert theirs_cls.__match_args__ == tuple(names.values())
        # Equality and hashing as there: by value within a class, and unhashable.
        other = values(theirs_cls, "other ")
        assert ours == ours_cls(*args) and theirs == theirs_cls(*args)
        assert (ours == ours_cls(*other)) == (theirs == theirs_cls(*other)) == (not args)
        assert type(ours).__hash__ is None and type(theirs).__hash__ is None


def is_record(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint) and isinstance(hint, type)


def unwrap(hint: Any) -> tuple[Any, bool]:
    """A field's type without Optional, and whether it is a list of them."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is list and typing.get_args(hint):
        return typing.get_args(hint)[0], True
    return hint, False


def build(
    ours_cls: type[Any], theirs_cls: type[Any], datatypes: Any, required_only: bool
) -> tuple[Any, Any]:
    """(ours, theirs) of one class, made alike by positional arguments, with nested objects
    wherever the ocpp package's class declares a datatypes class (ours: ``datatypes``')."""
    hints = typing.get_type_hints(theirs_cls)
    ours_args, their_args = [], []
    for field in dataclasses.fields(theirs_cls):
        if required_only and default(field) is not dataclasses.MISSING:
            break  # the required fields come first
        hint, many = unwrap(hints[field.name])
        if is_record(hint):
            ours, theirs = build(getattr(datatypes, hint.__name__), hint, datatypes, required_only)
            ours, theirs = ([ours], [theirs]) if many else (ours, theirs)
        else:
            ours = theirs = f"{theirs_cls.__name__}.{field.name}"
        ours_args.append(ours)
        their_args.append(theirs)
    return ours_cls(*ours_args), theirs_cls(*their_args)


def assert_same_dict(ours: Any, theirs: Any, renames: dict[str, str]) -> None:
    """``asdict`` of ours against theirs, but for the listed differences."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict)
        keys = {renames.get(key, key): key for key in theirs}
        extra = ours.keys() - keys.keys()
        assert extra <= EXTRA_FIELDS.keys() and all(ours[key] is None for key in extra)
        for key, their_key in keys.items():
            assert_same_dict(ours[key], theirs[their_key], renames)
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for one, other in zip(ours, theirs, strict=True):
            assert_same_dict(one, other, renames)
    else:
        assert ours == theirs


@pytest.mark.parametrize("required_only", [False, True], ids=["all fields", "required fields"])
@pytest.mark.parametrize("module", MODULES)
def test_asdict_and_replace_give_the_same_dicts(module: str, required_only: bool) -> None:
    version = module.split(".")[0]
    # Their spelling -> ours, in this version (keys of nested objects' dicts included).
    renames = {
        key.rsplit(".", 1)[1]: name for key, name in RENAMED.items() if key.startswith(version)
    }
    datatypes = importlib.import_module(f"trio_ocpp.{version}.datatypes")
    nested = 0
    for ours_cls, theirs_cls in pairs(module):
        ours, theirs = build(ours_cls, theirs_cls, datatypes, required_only)
        assert_same_dict(dataclasses.asdict(ours), dataclasses.asdict(theirs), renames)
        nested += any(is_record(type(value)) for value in vars(theirs).values())
        for name, their_name in list(their_names(module, ours_cls, theirs_cls).items())[:1]:
            changed = dataclasses.replace(ours, **{name: "changed"})
            assert getattr(changed, name) == "changed"
            theirs_changed = dataclasses.replace(theirs, **{their_name: "changed"})
            assert_same_dict(
                dataclasses.asdict(changed), dataclasses.asdict(theirs_changed), renames
            )
    assert nested > 0

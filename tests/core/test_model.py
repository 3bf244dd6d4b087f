"""The generated message model (trio_ocpp.v16, .v201, .v21) against the schemas it comes from."""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers.schema_payloads import full_payload, minimal_payload, resolve

from trio_ocpp import v16, v21, v201
from trio_ocpp._core.casing import (
    message_plan,
    object_to_wire,
    payload_to_python,
    payload_to_wire,
    to_python,
)
from trio_ocpp._core.payload import Payload, Record, field_values, payload_class
from trio_ocpp._core.schemas import MessageKind, actions, load_schema
from trio_ocpp._core.validation import validate
from trio_ocpp._core.versions import PACKAGES, VERSIONS, OCPPVersion

REPO = Path(__file__).resolve().parents[2]
PACKAGE_OF: dict[OCPPVersion, ModuleType] = {"1.6": v16, "2.0.1": v201, "2.1": v21}
MESSAGES = [
    (version, action, kind)
    for version in VERSIONS
    for kind in MessageKind
    for action in sorted(actions(version, kind))
]


def message_id(message: tuple[str, str, MessageKind]) -> str:
    version, action, kind = message
    return f"{version}-{action}-{kind.value}"


# --- every action is there ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "requests", "sends"), [("1.6", 39, 0), ("2.0.1", 64, 0), ("2.1", 90, 1)]
)
def test_every_action_has_its_classes_and_action_member(
    version: OCPPVersion, requests: int, sends: int
) -> None:
    package = PACKAGE_OF[version]
    request_actions = actions(version, MessageKind.REQUEST)
    send_actions = actions(version, MessageKind.SEND)
    assert (len(request_actions), len(send_actions)) == (requests, sends)
    assert actions(version, MessageKind.RESPONSE) == request_actions

    assert set(package.call.__all__) == request_actions | send_actions
    assert set(package.call_result.__all__) == request_actions
    assert {member.value for member in package.enums.Action} == request_actions | send_actions
    for action in request_actions | send_actions:
        member = package.enums.Action(action)
        assert member == action and isinstance(member, str)


@pytest.mark.parametrize("message", MESSAGES, ids=message_id)
def test_class_knows_its_message(message: tuple[OCPPVersion, str, MessageKind]) -> None:
    version, action, kind = message
    module = PACKAGE_OF[version].call_result if kind is MessageKind.RESPONSE else None
    cls = getattr(module or PACKAGE_OF[version].call, action)
    assert issubclass(cls, Payload)
    assert (cls.__ocpp_version__, cls.__ocpp_action__, cls.__ocpp_kind__) == message
    assert payload_class(version, action, kind) is cls


def test_payload_class_takes_any_version_spelling_and_rejects_unknown_messages() -> None:
    assert payload_class("ocpp1.6", "Heartbeat", MessageKind.RESPONSE) is v16.call_result.Heartbeat
    with pytest.raises(LookupError, match="NotifyPeriodicEventStream"):
        payload_class("2.1", "NotifyPeriodicEventStream", MessageKind.RESPONSE)
    with pytest.raises(ValueError, match="unknown OCPP version"):
        payload_class("1.5", "Heartbeat", MessageKind.REQUEST)


# --- the classes match the schemas ----------------------------------------------------------------


def default(field: dataclasses.Field[Any]) -> Any:
    """The value a field takes when left out; MISSING: it must be given."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def check_object(
    version: OCPPVersion, root: dict[str, Any], node: dict[str, Any], cls: type[Record]
) -> None:
    """Field names, defaults and nested types of ``cls`` against a schema object."""
    properties = node.get("properties", {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
    assert set(fields) == {to_python(wire) for wire in properties}, cls
    # The fields that the ocpp package lets go with a default although the schema requires them.
    lax = load_generator().DEFAULTS.get(version, {})
    for wire, sub in properties.items():
        name = to_python(wire)
        if wire in node.get("required", []):
            assert default(fields[name]) is dataclasses.MISSING or f"{cls.__name__}.{name}" in lax
        elif version == "2.1":  # as in the ocpp package: the schema's default
            expected = sub.get("default", resolve(root, sub).get("default"))
            assert default(fields[name]) == expected, (cls, name)
        else:
            assert default(fields[name]) in (None, []), (cls, name)
        target = dict(cls.__ocpp_types__).get(name)
        sub = resolve(root, sub)
        if sub.get("type") == "array":
            sub = resolve(root, sub["items"])
        if "enum" in sub:
            assert target is not None and issubclass(target, enum.StrEnum), (cls, name)
            assert set(sub["enum"]) <= {member.value for member in target}, (cls, name)
        elif sub.get("type") == "object":
            assert target is not None and issubclass(target, Record), (cls, name)
            check_object(version, root, sub, target)
        else:
            assert target is None, (cls, name)
    assert cls.__ocpp_open__ == (node.get("additionalProperties", True) is not False)


@pytest.mark.parametrize("message", MESSAGES, ids=message_id)
def test_class_matches_schema(message: tuple[OCPPVersion, str, MessageKind]) -> None:
    schema = load_schema(*message)
    check_object(message[0], schema, schema, payload_class(*message))


# --- wire -> object -> wire -----------------------------------------------------------------------


def assert_typed(obj: Record) -> None:
    """Every nested object of ``obj`` is a datatypes object and every enum value a member."""
    for name, target in obj.__ocpp_types__:
        value = getattr(obj, name)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                assert isinstance(item, target), (type(obj), name, item)
                if isinstance(item, Record):
                    assert_typed(item)


def with_defaults(cls: type[Record], value: dict[str, Any], deep: bool) -> dict[str, Any]:
    """A python-shaped dict of ``cls`` with the defaults of the fields it lacks, and in its nested
    objects too if ``deep``: what an object made of it holds."""
    types = dict(cls.__ocpp_types__)
    value = dict(value)
    for field in dataclasses.fields(cls):
        if field.name not in value and default(field) not in (None, dataclasses.MISSING):
            value[field.name] = default(field)
        target, item = types.get(field.name), value.get(field.name)
        if deep and isinstance(target, type) and issubclass(target, Record) and item is not None:
            value[field.name] = (
                [with_defaults(target, one, deep) for one in item]
                if isinstance(item, list)
                else with_defaults(target, item, deep)
            )
    return value


@pytest.mark.parametrize("make", [full_payload, minimal_payload])
@pytest.mark.parametrize("message", MESSAGES, ids=message_id)
def test_round_trip(message: tuple[OCPPVersion, str, MessageKind], make: Any) -> None:
    payload = make(load_schema(*message))
    cls = payload_class(*message)
    python = payload_to_python(*message, payload)

    compat = cls.from_wire(payload)
    # Compatible mode gives what the runtime hands to dict-based handlers, with the defaults of
    # the fields left out (as the ocpp package's classes have them).
    given = {k: v for k, v in field_values(compat).items() if v is not None}
    assert given == with_defaults(cls, python, deep=False)
    assert compat.to_wire() == payload_to_wire(*message, given)
    if make is full_payload:
        assert compat.to_wire() == payload

    typed = cls.from_wire(payload, typed=True)
    assert_typed(typed)
    wire = typed.to_wire()
    # to_wire() renames in one pass what __ocpp_wire__() and the renaming do in two.
    assert wire == object_to_wire(typed.__ocpp_wire__(), message_plan(*message))
    assert wire == payload_to_wire(*message, with_defaults(cls, python, deep=True))
    if make is full_payload:
        assert wire == payload
    validate(*message, wire)


def test_from_wire_keeps_enums_plain_unless_typed() -> None:
    wire = {"currentTime": "2024-01-01T12:00:00Z", "interval": 10, "status": "Accepted"}
    compat = v16.call_result.BootNotification.from_wire(wire)
    typed = v16.call_result.BootNotification.from_wire(wire, typed=True)
    assert type(compat.status) is str
    assert typed.status is v16.enums.RegistrationStatus.accepted
    assert compat == typed  # str enums compare equal to their values


# --- construction ---------------------------------------------------------------------------------


def test_seed_example() -> None:
    now = datetime.now(tz=UTC).isoformat()
    response = v16.call_result.BootNotification(
        current_time=now, interval=10, status=v16.enums.RegistrationStatus.accepted
    )
    wire = response.to_wire()
    assert wire == {"currentTime": now, "interval": 10, "status": "Accepted"}
    assert type(wire["status"]) is str


@pytest.mark.parametrize(
    "cls", [v16.call_result.BootNotification, v201.call.BootNotification, v21.datatypes.EVSEType]
)
def test_missing_required_field_fails_at_construction(cls: type[Record]) -> None:
    required = [f.name for f in dataclasses.fields(cls) if default(f) is dataclasses.MISSING]
    with pytest.raises(TypeError, match=f"'{required[-1]}'"):
        cls(**dict.fromkeys(required[:-1], 1))


@pytest.mark.parametrize(
    "cls", [v16.call.Heartbeat, v201.call.BootNotification, v21.datatypes.EVSEType]
)
def test_unknown_field_fails_at_construction(cls: type[Record]) -> None:
    with pytest.raises(TypeError, match="charge_box_id"):
        cls(charge_box_id="CP-1")


def test_unknown_wire_key_fails_clearly() -> None:
    with pytest.raises(TypeError, match="unexpectedKey"):
        v16.call.Heartbeat.from_wire({"unexpectedKey": 1})
    status = {"status": "Accepted", "unexpectedKey": 1}
    with pytest.raises(TypeError, match="unexpectedKey"):
        v16.call_result.Authorize.from_wire({"idTagInfo": status}, typed=True)
    # As a dict, the nested object keeps it, as handlers get it.
    assert v16.call_result.Authorize.from_wire({"idTagInfo": status}).id_tag_info == {
        "status": "Accepted",
        "unexpectedKey": 1,  # as the sender wrote it
    }


# --- outgoing values in any form ------------------------------------------------------------------

METER_VALUES_WIRE = {
    "connectorId": 1,
    "meterValue": [
        {
            "timestamp": "2024-01-01T12:00:00Z",
            "sampledValue": [
                {"value": "10", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": "20", "unit": "Celsius", "location": "Body"},
            ],
        }
    ],
}


@pytest.mark.parametrize(
    "meter_value",
    [
        pytest.param(
            [
                v16.datatypes.MeterValue(
                    timestamp="2024-01-01T12:00:00Z",
                    sampled_value=[
                        v16.datatypes.SampledValue(
                            value="10",
                            unit=v16.enums.UnitOfMeasure.wh,
                            measurand=v16.enums.Measurand.energy_active_import_register,
                        ),
                        v16.datatypes.SampledValue(
                            value="20", unit="Celsius", location=v16.enums.Location.body
                        ),
                    ],
                )
            ],
            id="objects",
        ),
        pytest.param(
            [
                {
                    "timestamp": "2024-01-01T12:00:00Z",
                    "sampled_value": [
                        {
                            "value": "10",
                            "unit": "Wh",
                            "measurand": "Energy.Active.Import.Register",
                            "phase": None,
                        },
                        {"value": "20", "unit": "Celsius", "location": "Body"},
                    ],
                }
            ],
            id="dicts",
        ),
        pytest.param(
            (
                {
                    "timestamp": "2024-01-01T12:00:00Z",
                    "sampled_value": [
                        v16.datatypes.SampledValue(
                            value="10",
                            unit="Wh",
                            measurand=v16.enums.Measurand.energy_active_import_register,
                        ),
                        {
                            "value": "20",
                            "unit": v16.enums.UnitOfMeasure.celsius,
                            "location": "Body",
                        },
                    ],
                },
            ),
            id="mixed",
        ),
    ],
)
def test_outgoing_payload_accepts_objects_dicts_and_enums(meter_value: Any) -> None:
    wire = v16.call.MeterValues(connector_id=1, meter_value=meter_value).to_wire()
    assert wire == METER_VALUES_WIRE
    validate("1.6", "MeterValues", MessageKind.REQUEST, wire)


def test_custom_data_keeps_vendor_keys() -> None:
    wire = {
        "chargingStation": {"model": "M", "vendorName": "V"},
        "reason": "PowerUp",
        "customData": {"vendorId": "com.example", "fooBar": {"x": 1}},
    }
    compat = v201.call.BootNotification.from_wire(wire)
    assert compat.custom_data == {"vendor_id": "com.example", "fooBar": {"x": 1}}
    typed = v201.call.BootNotification.from_wire(wire, typed=True)
    assert typed.custom_data == v201.datatypes.CustomDataType(
        vendor_id="com.example", extra={"fooBar": {"x": 1}}
    )
    assert compat.to_wire() == typed.to_wire() == wire
    validate("2.0.1", "BootNotification", MessageKind.REQUEST, wire)


# --- enums ----------------------------------------------------------------------------------------


def test_enum_members_are_their_wire_strings() -> None:
    assert v16.enums.Action.boot_notification == "BootNotification"
    assert v201.enums.Action.get_15118_ev_certificate == "Get15118EVCertificate"
    assert v21.enums.Action.notify_periodic_event_stream == "NotifyPeriodicEventStream"
    assert v16.enums.RegistrationStatus.accepted == "Accepted"
    assert f"{v16.enums.ChargePointStatus.suspended_evse}" == "SuspendedEVSE"
    assert v201.enums.RegistrationStatusEnumType("Pending") is (
        v201.enums.RegistrationStatusEnumType.pending
    )


def test_enum_names_follow_the_ocpp_package() -> None:
    units = v16.enums.UnitOfMeasure
    assert (units.celsius, units.celcius, units.kwh, units.hertz) == (
        "Celsius",
        "Celcius",
        "kWh",
        "Hertz",
    )
    assert v16.enums.ChargingRateUnitType.watts == "W"
    assert v16.enums.Measurand.soc == "SoC"
    assert v16.enums.Phase.l1_n == "L1-N"
    assert v16.enums.ReadingContext.sample_periodic == "Sample.Periodic"
    assert v16.enums.CertificateStatus.failed == "Failed"  # InstallCertificate's status
    assert v201.enums.MonitorBaseEnumType is v201.enums.MonitoringBaseEnumType
    assert v201.enums.IdTokenEnumType.iso14443 == "ISO14443"
    assert v21.enums.EnergyTransferModeEnumType.ac_bpt == "AC_BPT"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_enum_is_a_str_enum(version: OCPPVersion) -> None:
    module = PACKAGE_OF[version].enums
    for name in module.__all__:
        cls = getattr(module, name)
        if name == "CiStringType":  # string lengths (1.6): the one int enum
            assert issubclass(cls, enum.IntEnum) and cls.ci_string_20 == 20
            continue
        assert issubclass(cls, enum.StrEnum), name
        for member in cls:
            assert member == member.value and str(member) == member.value


# --- the generated modules ------------------------------------------------------------------------


@functools.cache
def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_model", REPO / "tools" / "generate_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_reproduces_the_committed_modules() -> None:
    generator = load_generator()
    files = generator.generate()
    assert sorted(files) == sorted(
        f"{PACKAGES[version]}/{module}.py" for version in VERSIONS for module in generator.MODULES
    )
    for name, text in files.items():
        committed = (REPO / "src" / "trio_ocpp" / name).read_text(encoding="utf-8")
        assert committed.startswith(generator.HEADER)
        assert text == committed, f"{name} differs: run python tools/generate_model.py"


@pytest.mark.parametrize("version", VERSIONS)
def test_version_package_exports_its_modules(version: OCPPVersion) -> None:
    package = PACKAGE_OF[version]
    assert {"call", "call_result", "datatypes", "enums"} <= set(package.__all__)

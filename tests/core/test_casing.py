"""Casing: the generated table, the generic rule, and schema-guided payload conversion."""

from __future__ import annotations

import enum
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trio_ocpp import casing
from trio_ocpp._core.casing import PYTHON_TO_WIRE, _generic_to_python, _generic_to_wire
from trio_ocpp._core.casing_table import WIRE_TO_PYTHON
from trio_ocpp._core.schemas import SCHEMA_ROOT, MessageKind, actions, load_schema, resolve_ref
from trio_ocpp._core.versions import VERSIONS, OCPPVersion
from trio_ocpp.casing import (
    camel_to_snake_case,
    payload_to_python,
    payload_to_wire,
    snake_to_camel_case,
    to_python,
    to_wire,
)

REPO = Path(__file__).resolve().parents[2]
Schema = dict[str, Any]


def _load_generator() -> ModuleType:
    path = REPO / "tools" / "generate_casing.py"
    spec = importlib.util.spec_from_file_location("generate_casing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()

MESSAGES = [
    (version, action, kind)
    for version in VERSIONS
    for kind in MessageKind
    for action in sorted(actions(version, kind))
]

# The two python names with two wire spellings (in different object types).
SHARED = {"price_schedule_id": {"priceScheduleID", "priceScheduleId"}, "soc": {"soC", "soc"}}


def _property_maps(node: Any) -> list[dict[str, Any]]:
    """Every "properties" mapping of a schema, at any depth (found independently of the tool)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                found.append(value)
                for child in value.values():
                    found.extend(_property_maps(child))
            else:
                found.extend(_property_maps(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_property_maps(item))
    return found


def _schemas() -> list[tuple[str, Schema]]:
    return [
        (str(path.relative_to(SCHEMA_ROOT)), json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(SCHEMA_ROOT.glob("*/*.json"))
    ]


def _sample(root: Schema, node: Schema, name: str = "value") -> Any:
    """A payload with every property; customData gets extension keys, untyped values a dict."""
    node = resolve_ref(root, node)
    if "properties" in node:
        out = {key: _sample(root, sub, key) for key, sub in node["properties"].items()}
        if list(node["properties"]) == ["vendorId"]:
            out.update({"vendorExtraKey": {"nestedKey": [1, 2]}, "soC": 1, "limit_L2": 2})
        return out
    if "items" in node:
        return [_sample(root, node["items"], name), _sample(root, node["items"], name)]
    if "enum" in node:
        return node["enum"][-1]
    plain = {"string": name, "integer": 7, "number": 21.4, "boolean": True}
    return plain.get(node.get("type", ""), {"opaqueVendorKey": [{"deepKey": name}]})


def _key_count(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_key_count(item) for item in value.values())
    if isinstance(value, list):
        return sum(_key_count(item) for item in value)
    return 0


# --- the table ------------------------------------------------------------------------------------


def test_table_has_every_property_name_and_nothing_else() -> None:
    names = {name for _, schema in _schemas() for props in _property_maps(schema) for name in props}
    assert names == set(WIRE_TO_PYTHON)
    assert len(names) > 500


def test_every_wire_name_round_trips_through_the_global_tables() -> None:
    # Exhaustive rather than sampled: all 579 names take a millisecond.
    failing = {wire for wire in WIRE_TO_PYTHON if to_wire(to_python(wire)) != wire}
    assert failing == {"priceScheduleID", "soC"}  # checked schema-guided below
    assert {WIRE_TO_PYTHON[w] for w in failing} == set(SHARED)


def test_shared_python_names_are_exactly_the_known_ones() -> None:
    spellings: dict[str, set[str]] = {}
    for wire, python in WIRE_TO_PYTHON.items():
        spellings.setdefault(python, set()).add(wire)
    assert {p: w for p, w in spellings.items() if len(w) > 1} == SHARED
    # The documented default of the schema-free lookup: the generic spelling.
    assert to_wire("price_schedule_id") == "priceScheduleId"
    assert to_wire("soc") == "soc"


def test_python_names_are_snake_case_identifiers() -> None:
    for python in WIRE_TO_PYTHON.values():
        assert python.isidentifier() and python == python.lower() and "__" not in python


@pytest.mark.parametrize("path, schema", _schemas(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_two_properties_of_one_object_share_a_python_name(path: str, schema: Schema) -> None:
    for properties in _property_maps(schema):
        pythons = [WIRE_TO_PYTHON[name] for name in properties]
        assert len(set(pythons)) == len(pythons), (path, sorted(properties))


def test_generator_fails_loudly_on_a_collision(tmp_path: Path) -> None:
    (tmp_path / "v16").mkdir()
    schema = {"type": "object", "properties": {"fooBar": {}, "foo_bar": {}}}
    (tmp_path / "v16" / "Clash.json").write_text(json.dumps(schema))
    with pytest.raises(ValueError, match="both become 'foo_bar'"):
        generator.build_table(tmp_path)


def test_regenerating_the_table_reproduces_the_committed_file() -> None:
    committed = (REPO / "src" / "trio_ocpp" / "_core" / "casing_table.py").read_bytes()
    assert generator.render(generator.build_table()).encode("utf-8") == committed
    assert committed.startswith(b"# Generated by tools/generate_casing.py")


def test_generator_and_runtime_share_the_generic_rule() -> None:
    for python in WIRE_TO_PYTHON.values():
        assert generator.generic_to_wire(python) == _generic_to_wire(python)


@pytest.mark.parametrize(
    "wire, words",
    [
        ("responderURL", "responder url"),
        ("evSupportedDERControl", "ev supported der control"),
        ("fixedPFAbsorb", "fixed pf absorb"),
        ("fixedPF", "fixed pf"),
        ("iso15118CertificateHashData", "iso15118 certificate hash data"),
        ("hv10MinMeanValue", "hv10 min mean value"),
        ("address1", "address1"),
        ("evDurationLevel1DCInjection", "ev duration level1 dc injection"),
        ("v2xChargingParameters", "v2x charging parameters"),
        ("evMaxV2XEnergyRequest", "ev max v2x energy request"),
        ("limit_L2", "limit l2"),
        ("dischargeLimit_L3", "discharge limit l3"),
        ("prioritizedEMAIDs", "prioritized emaids"),
        ("numEPriceLevels", "num e price levels"),
        ("ePriceLevel", "e price level"),
        ("vRef", "v ref"),
        ("taxRuleID", "tax rule id"),
        ("maxEVSECurrent", "max evse current"),  # not in the schemas: EVSE as an acronym
        ("soC", "so c"),  # hence the override
    ],
)
def test_word_split(wire: str, words: str) -> None:
    assert generator.split_words(wire) == words.split()


# --- names, including the ocpp package's corruptions -------------------------------------------


@pytest.mark.parametrize(
    "wire, python",
    [
        ("responderURL", "responder_url"),
        ("v2xChargingParameters", "v2x_charging_parameters"),
        ("evMaxV2XEnergyRequest", "ev_max_v2x_energy_request"),
        ("ocppCsmsUrl", "ocpp_csms_url"),
        ("iccid", "iccid"),
        ("limit_L2", "limit_l2"),
        ("dischargeLimit_L3", "discharge_limit_l3"),
        ("prioritizedEMAIDs", "prioritized_emaids"),
        ("soH", "soh"),
        ("bulkSoC", "bulk_soc"),
        ("fullSoC", "full_soc"),
        ("targetSoC", "target_soc"),
        ("maxSoC", "max_soc"),
        ("limitAtSoC", "limit_at_soc"),
        ("vRef", "v_ref"),
        ("ePriceLevel", "e_price_level"),
        ("numEPriceLevels", "num_e_price_levels"),
        ("taxRuleID", "tax_rule_id"),
        ("priceScheduleId", "price_schedule_id"),
        # Names whose ocpp package spelling is the plain one: ours must agree.
        ("chargePointVendor", "charge_point_vendor"),
        ("idTagInfo", "id_tag_info"),
        ("evseId", "evse_id"),
        ("connectorId", "connector_id"),
        ("associatedIdTag", "associated_id_tag"),  # in no schema: the generic rule
    ],
)
def test_name_pairs(wire: str, python: str) -> None:
    assert to_python(wire) == python
    assert to_wire(python) == wire


def test_limit_at_soc_round_trips_in_notify_charging_limit() -> None:
    wire = {
        "chargingLimit": {"chargingLimitSource": "EMS"},
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4, "limit_L2": 3.5}],
                "limitAtSoC": {"soc": 80, "limit": 11000.0},
                "absolutePriceSchedule": {"priceScheduleID": 1, "currency": "EUR"},
                "priceLevelSchedule": {"priceScheduleId": 2, "numberOfPriceLevels": 3},
            }
        ],
    }
    python = payload_to_python("2.1", "NotifyChargingLimit", MessageKind.REQUEST, wire)
    schedule = python["charging_schedule"][0]
    assert schedule["limit_at_soc"] == {"soc": 80, "limit": 11000.0}
    assert schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 21.4, "limit_l2": 3.5}
    ]
    assert schedule["absolute_price_schedule"] == {"price_schedule_id": 1, "currency": "EUR"}
    assert schedule["price_level_schedule"] == {"price_schedule_id": 2, "number_of_price_levels": 3}
    assert payload_to_wire("2.1", "NotifyChargingLimit", MessageKind.REQUEST, python) == wire


def test_battery_swap_so_c_and_so_h_round_trip() -> None:
    wire = {
        "eventType": "BatteryIn",
        "requestId": 1,
        "idToken": {"idToken": "abc", "type": "ISO14443"},
        "batteryData": [{"evseId": 1, "serialNumber": "B1", "soC": 50.5, "soH": 90.0}],
    }
    python = payload_to_python("2.1", "BatterySwap", MessageKind.REQUEST, wire)
    assert python["battery_data"] == [
        {"evse_id": 1, "serial_number": "B1", "soc": 50.5, "soh": 90.0}
    ]
    assert payload_to_wire("2.1", "BatterySwap", MessageKind.REQUEST, python) == wire


def test_responder_url_in_a_message() -> None:
    wire = {
        "ocspRequestData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a",
            "issuerKeyHash": "b",
            "serialNumber": "c",
            "responderURL": "http://ocsp.example.com",
        }
    }
    python = payload_to_python("2.0.1", "GetCertificateStatus", MessageKind.REQUEST, wire)
    assert python["ocsp_request_data"]["responder_url"] == "http://ocsp.example.com"
    assert payload_to_wire("2.0.1", "GetCertificateStatus", MessageKind.REQUEST, python) == wire


# --- whole payloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("version, action, kind", MESSAGES, ids=lambda v: getattr(v, "value", v))
def test_full_payload_round_trips(version: OCPPVersion, action: str, kind: MessageKind) -> None:
    schema = load_schema(version, action, kind)
    wire = _sample(schema, schema)
    python = payload_to_python(version, action, kind, wire)
    assert _key_count(python) == _key_count(wire)  # no two keys merged anywhere
    assert payload_to_wire(version, action, kind, python) == wire


def test_full_payloads_reach_every_schema_file() -> None:
    # With every property in each payload, this puts every wire name through a round trip.
    assert len(MESSAGES) == len(_schemas())


def test_custom_data_extension_keys_are_opaque() -> None:
    custom = {"vendorId": "com.example", "fooBar": {"deepKey": [1]}, "soC": 3, "limit_L2": 4}
    wire = {
        "chargingStation": {"model": "M", "vendorName": "V", "customData": custom},
        "reason": "PowerUp",
        "customData": {"vendorId": "com.example", "someURL": "x", "snake_key": None},
    }
    python = payload_to_python("2.0.1", "BootNotification", MessageKind.REQUEST, wire)
    # Only the declared name is renamed; extension keys and their values stay as the vendor
    # wrote them, even where a table or the generic rule would rename them (soC, fooBar).
    assert python["charging_station"]["custom_data"] == {
        "vendor_id": "com.example",
        "fooBar": {"deepKey": [1]},
        "soC": 3,
        "limit_L2": 4,
    }
    assert python["custom_data"] == {"vendor_id": "com.example", "someURL": "x", "snake_key": None}
    out = payload_to_wire("2.0.1", "BootNotification", MessageKind.REQUEST, python)
    # None is dropped from the object the schema describes, as for any optional field.
    assert out == {**wire, "customData": {"vendorId": "com.example", "someURL": "x"}}


# DataTransfer data as a vendor might write it: every casing, nulls, nesting.
VENDOR_DATA = {
    "someKey": 1,
    "snake_key": 2,
    "nested": {"innerKey": [{"aB": 1, "c_d": None}], "URL": "x"},
    "soC": [True, None],
}


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
@pytest.mark.parametrize("kind", [MessageKind.REQUEST, MessageKind.RESPONSE])
def test_untyped_values_are_opaque_both_ways(version: str, kind: MessageKind) -> None:
    status = {"status": "Accepted"} if kind is MessageKind.RESPONSE else {"vendorId": "v"}
    wire = {**status, "data": VENDOR_DATA}
    python = payload_to_python(version, "DataTransfer", kind, wire)
    assert python["data"] == VENDOR_DATA
    sent = payload_to_wire(version, "DataTransfer", kind, {**python, "data": VENDOR_DATA})
    assert sent == wire
    for data in ("text", 5, [{"aB": 1}], None):  # anyType: any JSON value
        assert payload_to_python(version, "DataTransfer", kind, {**status, "data": data}) == {
            to_python(key): value for key, value in status.items()
        } | {"data": data}


def test_16_data_transfer_data_is_a_string_kept_as_it_is() -> None:
    wire = {"vendorId": "v", "data": '{"someKey": 1}'}
    python = payload_to_python("1.6", "DataTransfer", MessageKind.REQUEST, wire)
    assert python == {"vendor_id": "v", "data": '{"someKey": 1}'}
    assert payload_to_wire("1.6", "DataTransfer", MessageKind.REQUEST, python) == wire


def test_unknown_action_raises_lookup_error() -> None:
    with pytest.raises(LookupError):
        payload_to_python("2.0.1", "NoSuchAction", MessageKind.REQUEST, {})
    with pytest.raises(ValueError):
        payload_to_wire("9.9", "BootNotification", MessageKind.REQUEST, {})


KIND_CASES = [
    ("2.0.1", "BootNotification", "request"),
    ("2.0.1", "BootNotification", "response"),
    ("2.1", "NotifyPeriodicEventStream", "send"),
]


@pytest.mark.parametrize(("version", "action", "kind"), KIND_CASES)
def test_the_conversions_take_a_message_kind_or_its_value(
    version: str, action: str, kind: Any
) -> None:
    member = MessageKind(kind)
    schema = load_schema(version, action, member)
    wire = _sample(schema, schema)
    python = payload_to_python(version, action, kind, wire)
    assert python == payload_to_python(version, action, member, wire)
    assert python.keys() != wire.keys()  # renamed
    assert payload_to_wire(version, action, kind, python) == wire


def test_the_conversions_refuse_another_kind() -> None:
    for convert in (payload_to_python, payload_to_wire):
        with pytest.raises(ValueError, match="'calls' is not a valid MessageKind"):
            convert("1.6", "Authorize", "calls", {})  # type: ignore[arg-type]


def test_a_reference_resolves_through_references_and_any_pointer() -> None:
    target = {"type": "string"}
    root: Schema = {
        "definitions": {"A": {"$ref": "#/definitions/B"}, "B": target},
        "properties": {"x": {"$ref": "#/properties/y"}, "y": {"$ref": "#/definitions/A"}},
    }
    assert resolve_ref(root, {"$ref": "#/definitions/A"}) is target
    assert resolve_ref(root, root["properties"]["x"]) is target
    assert resolve_ref(root, target) is target


def test_version_aliases_are_accepted() -> None:
    for version in ("1.6", "ocpp1.6", "v16"):
        python = payload_to_python(version, "Authorize", MessageKind.REQUEST, {"idTag": "a"})
        assert python == {"id_tag": "a"}


# --- payload_to_wire on python values -------------------------------------------------------------


class Reason(enum.Enum):
    POWER_UP = "PowerUp"


class StrReason(enum.StrEnum):
    POWER_UP = "PowerUp"


class Level(enum.IntEnum):
    ONE = 1


class Station:
    """Stands in for a message-model object."""

    def __ocpp_wire__(self) -> dict[str, Any]:
        return {"model": "M", "vendor_name": "V", "serial_number": None}


def test_none_values_are_dropped() -> None:
    python = {
        "charging_station": {"model": "M", "vendor_name": "V", "serial_number": None},
        "reason": "PowerUp",
        "custom_data": None,
    }
    wire = payload_to_wire("2.0.1", "BootNotification", MessageKind.REQUEST, python)
    assert wire == {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}


@pytest.mark.parametrize("reason", [Reason.POWER_UP, StrReason.POWER_UP])
def test_enum_values_are_converted(reason: enum.Enum) -> None:
    python = {"charging_station": {"model": "M", "vendor_name": "V"}, "reason": reason}
    wire = payload_to_wire("2.0.1", "BootNotification", MessageKind.REQUEST, python)
    assert type(wire["reason"]) is str and wire["reason"] == "PowerUp"
    level = payload_to_wire(
        "2.0.1", "StatusNotification", MessageKind.REQUEST, {"evse_id": Level.ONE}
    )
    assert type(level["evseId"]) is int


def test_ocpp_wire_hook_is_converted_in_place() -> None:
    python = {"charging_station": Station(), "reason": Reason.POWER_UP}
    wire = payload_to_wire("2.0.1", "BootNotification", MessageKind.REQUEST, python)
    assert wire == {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}


def test_values_are_never_touched() -> None:
    python = {
        "evse_id": 1,
        "meter_value": (
            {
                "timestamp": "2024-01-01T00:00:00Z",
                "sampled_value": [{"value": 21.4, "measurand": "Energy.Active.Import.Register"}],
            },
        ),
    }
    wire = payload_to_wire("2.0.1", "MeterValues", MessageKind.REQUEST, python)
    assert wire["meterValue"] == [
        {
            "timestamp": "2024-01-01T00:00:00Z",
            "sampledValue": [{"value": 21.4, "measurand": "Energy.Active.Import.Register"}],
        }
    ]
    back = payload_to_python("1.6", "Authorize", MessageKind.REQUEST, {"idTag": "someCamelTag"})
    assert back == {"id_tag": "someCamelTag"}


# --- the generic rule and the schema-free helpers -----------------------------------------------

lower_camel = st.from_regex(r"[a-z][a-zA-Z0-9]{0,30}", fullmatch=True)
snake = st.from_regex(r"[a-z][a-z0-9]{0,8}(_[a-z][a-z0-9]{0,8}){0,4}", fullmatch=True)


@given(lower_camel)
def test_generic_rule_round_trips_lower_camel_case(name: str) -> None:
    python = _generic_to_python(name)
    assert _generic_to_wire(python) == name
    assert python == python.lower()


@given(snake)
def test_generic_rule_round_trips_snake_case(name: str) -> None:
    assert _generic_to_python(_generic_to_wire(name)) == name


@given(lower_camel)
def test_public_functions_round_trip_names_in_no_table(name: str) -> None:
    assume(name not in WIRE_TO_PYTHON and _generic_to_python(name) not in PYTHON_TO_WIRE)
    assert to_wire(to_python(name)) == name


@pytest.mark.parametrize("name", ["Foo", "x-y", "café", "_private", "a__b", "", "limit_L2x"])
def test_generic_rule_leaves_other_names_alone(name: str) -> None:
    assert _generic_to_python(name) == name
    assert _generic_to_wire(name) == name


def test_generic_rule_limit_a_wire_key_with_underscore() -> None:
    # Documented: such a key reads as snake_case on the way back.
    assert to_python("vendor_key") == "vendor_key"
    assert to_wire("vendor_key") == "vendorKey"


def test_schema_free_helpers_recurse_and_keep_values() -> None:
    wire = {"idTagInfo": {"status": "Accepted", "parentIdTag": None}, "list": [{"responderURL": 1}]}
    python = camel_to_snake_case(wire)
    assert python == {
        "id_tag_info": {"status": "Accepted", "parent_id_tag": None},
        "list": [{"responder_url": 1}],
    }
    assert snake_to_camel_case(python) == wire
    assert camel_to_snake_case([1, "a"]) == [1, "a"]


def test_public_surface() -> None:
    assert sorted(casing.__all__) == [
        "camel_to_snake_case",
        "payload_to_python",
        "payload_to_wire",
        "snake_to_camel_case",
        "to_python",
        "to_wire",
    ]
    for name in casing.__all__:
        assert callable(getattr(casing, name))

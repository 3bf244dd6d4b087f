"""Payload validation: the errors of CONFORMANCE rule 18, decimal multipleOf, formats, caching."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import jsonschema
import pytest
from helpers.engines import verdict
from helpers.schema_payloads import (
    MUTATORS,
    charging_profile_16,
    full_payload,
    minimal_payload,
    mutations,
)

from trio_ocpp import exceptions
from trio_ocpp._core.schema_dialect import is_multiple_of, validator_class_for
from trio_ocpp._core.schema_errors import schema_error
from trio_ocpp._core.schemas import MessageKind, actions, load_schema
from trio_ocpp._core.validation import FormatPolicy, compile_validator, validate, validate_payload
from trio_ocpp._core.versions import VERSIONS, OCPPVersion

# Every test runs with each validation engine: the errors must not depend on it.
pytestmark = pytest.mark.usefixtures("each_engine")

REQUEST = MessageKind.REQUEST
RESPONSE = MessageKind.RESPONSE


def error_of(
    version: str,
    action: str,
    payload: Any,
    kind: MessageKind = REQUEST,
    formats: FormatPolicy = FormatPolicy.LENIENT,
) -> exceptions.OCPPError:
    with pytest.raises(exceptions.OCPPError) as info:
        validate(version, action, kind, payload, formats=formats)
    return info.value


def is_accepted(version: str, action: str, payload: Any, formats: FormatPolicy) -> bool:
    accepted = verdict(compile_validator(version, action, REQUEST, formats), payload)
    try:
        validate(version, action, REQUEST, payload, formats=formats)
    except exceptions.OCPPError:
        assert not accepted
        return False
    assert accepted
    return True


BOOT_16 = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}


def meter_values_16(*units: str) -> dict[str, Any]:
    samples = [{"value": str(i), "measurand": "Voltage", "unit": u} for i, u in enumerate(units)]
    return {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [{"timestamp": "2024-01-01T12:00:00Z", "sampledValue": samples}],
    }


# --- rule 18: which error for which keyword -------------------------------------------------------

# keyword -> (class, code on a 1.6 connection, code on a 2.x connection)
RULE_18: dict[str, tuple[type[exceptions.OCPPError], str, str]] = {
    "type": (
        exceptions.TypeConstraintViolationError,
        "TypeConstraintViolation",
        "TypeConstraintViolation",
    ),
    **dict.fromkeys(
        ("required", "minItems", "maxItems"),
        (
            exceptions.OccurrenceConstraintViolationError,
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
    ),
    "additionalProperties": (
        exceptions.FormatViolationError,
        "FormationViolation",
        "FormatViolation",
    ),
    **dict.fromkeys(
        ("enum", "maxLength", "minimum", "maximum", "multipleOf"),
        (
            exceptions.PropertyConstraintViolationError,
            "PropertyConstraintViolation",
            "PropertyConstraintViolation",
        ),
    ),
}
assert RULE_18.keys() == MUTATORS.keys()


def first_mutation(version: OCPPVersion, keyword: str) -> tuple[str, MessageKind, str, Any] | None:
    """The first schema of ``version`` (by kind, then action) that has a ``keyword`` mutation."""
    for kind in MessageKind:
        for action in sorted(actions(version, kind)):
            found = mutations(load_schema(version, action, kind), keyword)
            if found:
                return action, kind, *found[0]
    return None


# 1.6 has no minimum, maximum or maxItems; 2.x has no multipleOf.
KEYWORD_CASES = [
    pytest.param(version, keyword, case, id=f"{version}-{keyword}")
    for version in VERSIONS
    for keyword in RULE_18
    if (case := first_mutation(version, keyword)) is not None
]


@pytest.mark.parametrize(("version", "keyword", "case"), KEYWORD_CASES)
def test_each_keyword_raises_its_error_spelled_per_version(
    version: OCPPVersion, keyword: str, case: tuple[str, MessageKind, str, Any]
) -> None:
    action, kind, description, payload = case
    cls, code_16, code_2x = RULE_18[keyword]
    error = error_of(version, action, payload, kind)
    assert type(error) is cls, description
    assert type(error).code_for(version) == (code_16 if version == "1.6" else code_2x)
    assert error.details == {}


REPRESENTATIVE = [
    ("1.6", "BootNotification", REQUEST),
    ("1.6", "MeterValues", REQUEST),
    ("1.6", "SetChargingProfile", REQUEST),
    ("1.6", "GetConfiguration", RESPONSE),
    ("2.0.1", "BootNotification", REQUEST),
    ("2.0.1", "SetChargingProfile", REQUEST),
    ("2.1", "RequestStartTransaction", REQUEST),
    ("2.1", "ReportChargingProfiles", REQUEST),  # the longest field paths
    ("2.1", "NotifyPeriodicEventStream", MessageKind.SEND),
]


@pytest.mark.parametrize(
    ("version", "action", "kind"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2].value}") for case in REPRESENTATIVE],
)
def test_every_mutation_gets_its_keywords_error_and_a_readable_description(
    version: OCPPVersion, action: str, kind: MessageKind
) -> None:
    schema = load_schema(version, action, kind)
    for keyword in MUTATORS:
        for description, payload in mutations(schema, keyword):
            error = error_of(version, action, payload, kind)
            assert type(error) is RULE_18[keyword][0], description
            assert error.description.startswith(f"{action} {kind.value}: "), error.description
            field = description.partition(": ")[0]
            if field != "payload":
                assert f": {field}" in error.description, (description, error.description)
            assert len(error.description) <= 255


@pytest.mark.parametrize(
    ("keyword", "schema", "payload", "cls"),
    [
        ("minLength", {"type": "string", "minLength": 2}, "x", "Property"),
        ("pattern", {"type": "string", "pattern": "^a"}, "b", "Property"),
        ("const", {"const": 1}, 2, "Property"),
        ("exclusiveMinimum", {"exclusiveMinimum": 0}, 0, "Property"),
        ("exclusiveMaximum", {"exclusiveMaximum": 0}, 0, "Property"),
        ("additionalItems", {"items": [{}], "additionalItems": False}, [1, 2], "Format"),
        ("uniqueItems", {"uniqueItems": True}, [1, 1], "Format"),
        ("minProperties", {"minProperties": 1}, {}, "Format"),
    ],
)
def test_keywords_the_ocpp_schemas_do_not_use(
    keyword: str, schema: dict[str, Any], payload: Any, cls: str
) -> None:
    # Not reachable through validate(): no OCPP schema has them, but the mapping is complete.
    draft_06 = {"$schema": "http://json-schema.org/draft-06/schema#", **schema}
    validator = validator_class_for(draft_06)(draft_06)
    error = schema_error(next(validator.iter_errors(payload)), "Test", REQUEST)
    expected = {
        "Property": exceptions.PropertyConstraintViolationError,
        "Format": exceptions.FormatViolationError,
    }[cls]
    assert type(error) is expected
    assert error.description.startswith("Test request: payload: ")


# --- descriptions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "payload", "description"),
    [
        (
            "1.6",
            "BootNotification",
            {"chargePointModel": "M"},
            "BootNotification request: chargePointVendor: required property is missing",
        ),
        (
            "1.6",
            "BootNotification",
            {**BOOT_16, "chargePointModel": "M" * 21},
            "BootNotification request: chargePointModel: "
            "'MMMMMMMMMMMMMMMMMMMMM' is too long (21 characters, at most 20)",
        ),
        (
            "1.6",
            "BootNotification",
            {**BOOT_16, "colour": "red"},
            "BootNotification request: colour: property is not allowed",
        ),
        (
            "1.6",
            "BootNotification",
            [],
            "BootNotification request: payload: [] is not of type 'object'",
        ),
        (
            "1.6",
            "MeterValues",
            meter_values_16("V", "Watt", "A", "W"),
            "MeterValues request: meterValue[0].sampledValue[1].unit: "
            "'Watt' is not one of ['Wh', 'kWh', 'varh', 'kvarh', ...]",
        ),
        (
            "1.6",
            "MeterValues",
            {**meter_values_16("V"), "connectorId": "1"},
            "MeterValues request: connectorId: '1' is not of type 'integer'",
        ),
        (
            "1.6",
            "MeterValues",
            {"connectorId": 1, "meterValue": []},
            "MeterValues request: meterValue: 0 items, at least 1 required",
        ),
        (
            "2.0.1",
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V", "x": 1}},
            "BootNotification request: chargingStation.x: property is not allowed",
        ),
        (
            "2.1",
            "NotifyPeriodicEventStream",
            {
                "id": -1,
                "pending": 0,
                "basetime": "2024-01-01T00:00:00Z",
                "data": [{"t": 1, "v": "x"}],
            },
            "NotifyPeriodicEventStream send: id: -1 is out of range (minimum 0.0)",
        ),
    ],
)
def test_description_names_the_action_and_the_field_path(
    version: str, action: str, payload: Any, description: str
) -> None:
    kind = MessageKind.SEND if action == "NotifyPeriodicEventStream" else REQUEST
    error = error_of(version, action, payload, kind)
    assert error.description == description
    assert error.details == {}


def test_a_nested_extra_key_in_a_16_sample_is_a_formation_violation() -> None:
    payload = meter_values_16("V", "A")
    payload["meterValue"][0]["sampledValue"][1]["colour"] = "red"
    error = error_of("1.6", "MeterValues", payload)
    assert type(error) is exceptions.FormatViolationError
    assert type(error).code_for("1.6") == "FormationViolation"
    assert error.description == (
        "MeterValues request: meterValue[0].sampledValue[1].colour: property is not allowed"
    )


def test_custom_data_accepts_extra_keys_but_requires_a_vendor_id() -> None:
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    validate(
        "2.0.1", "BootNotification", REQUEST, {**boot, "customData": {"vendorId": "x", "a": 1}}
    )
    error = error_of("2.0.1", "BootNotification", {**boot, "customData": {"a": 1}})
    assert type(error) is exceptions.OccurrenceConstraintViolationError
    assert ": customData.vendorId: required property is missing" in error.description


# --- which error, when several fail ---------------------------------------------------------------


def test_the_shallowest_error_is_reported() -> None:
    payload = meter_values_16("Watt")
    del payload["connectorId"]
    error = error_of("1.6", "MeterValues", payload)
    assert type(error) is exceptions.OccurrenceConstraintViolationError
    assert ": connectorId: required" in error.description


def test_among_equally_deep_errors_the_first_in_schema_order_wins() -> None:
    # The schema lists "additionalProperties" before "required", and chargePointVendor first.
    error = error_of("1.6", "BootNotification", {"extra": 1})
    assert type(error) is exceptions.FormatViolationError
    assert ": extra: " in error.description
    error = error_of("1.6", "BootNotification", {})
    assert ": chargePointVendor: required" in error.description


def test_a_value_s_own_constraints_come_before_its_members() -> None:
    # The root's extra property is found before the bad member, whatever the object's order.
    for payload in (
        {"chargePointModel": 1, "x": 1, "chargePointVendor": "V"},
        {"x": 1, "chargePointVendor": "V", "chargePointModel": 1},
    ):
        error = error_of("1.6", "BootNotification", payload)
        assert ": x: property is not allowed" in error.description


def test_members_are_checked_in_schema_order_not_in_the_payload_s() -> None:
    boot = {"chargePointModel": 1, "chargePointVendor": 2}
    assert ": chargePointVendor: " in error_of("1.6", "BootNotification", boot).description
    station = {"reason": "X", "chargingStation": {"vendorName": 2, "model": 1}}
    error = error_of("2.0.1", "BootNotification", station)
    assert error.description.endswith("chargingStation.model: 1 is not of type 'string'")


def test_the_first_bad_item_of_an_array_is_reported_even_if_a_later_one_is_shallower() -> None:
    payload = meter_values_16(*["Wh"] * 300, "Watt")
    payload["meterValue"].append(1)
    error = error_of("1.6", "MeterValues", payload)
    assert ": meterValue[0].sampledValue[300].unit: 'Watt' is not one of" in error.description


def test_a_peer_s_property_name_is_escaped_in_the_description() -> None:
    error = error_of("1.6", "BootNotification", {"\ud800\n" + "x" * 100: 1})
    assert ": \\ud800\\nxxx" in error.description
    assert error.description.isprintable()
    error.description.encode()


def test_the_root_s_constraints_are_checked_with_our_keywords() -> None:
    # jsonschema's additionalProperties sorts and quotes every extra property in its message.
    validator = compile_validator("1.6", "BootNotification", REQUEST)
    error = validator.first_error({"chargePointVendor": "V", "chargePointModel": "M", "x": 1})
    assert error is not None
    assert error.message == "'x' is not allowed"


def test_the_choice_is_the_same_every_time() -> None:
    payload = {"chargePointVendor": 1, "chargePointModel": "M" * 30, "x": None}
    first = error_of("1.6", "BootNotification", payload)
    assert all(error_of("1.6", "BootNotification", payload) == first for _ in range(5))


# --- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [21.4, 0.3, 0.7, 0.1, 16, 0, 1e300])
def test_multiple_of_compares_in_decimal(limit: float) -> None:
    payload = charging_profile_16(limit)
    before = copy.deepcopy(payload)
    validate("1.6", "SetChargingProfile", REQUEST, payload)
    assert verdict(compile_validator("1.6", "SetChargingProfile", REQUEST), payload)
    assert payload == before
    period = payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]
    assert period["limit"] is limit


@pytest.mark.parametrize("limit", [4.11, 0.35, 1e-5, 21.45])
def test_a_non_multiple_of_a_tenth_is_a_property_constraint_violation(limit: float) -> None:
    payload = charging_profile_16(limit)
    before = copy.deepcopy(payload)
    error = error_of("1.6", "SetChargingProfile", payload)
    assert not verdict(compile_validator("1.6", "SetChargingProfile", REQUEST), payload)
    assert payload == before
    assert type(error) is exceptions.PropertyConstraintViolationError
    assert error.description == (
        "SetChargingProfile request: "
        "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit: "
        f"{limit!r} is not a multiple of 0.1"
    )


def test_plain_jsonschema_would_reject_21_4() -> None:
    # Why the validator class is extended: in binary, 21.4 / 0.1 = 213.99999999999997.
    schema = load_schema("1.6", "SetChargingProfile", REQUEST)
    assert not jsonschema.Draft4Validator(schema).is_valid(charging_profile_16(21.4))


def test_is_multiple_of() -> None:
    from decimal import Decimal

    assert is_multiple_of(21.4, 0.1)
    assert is_multiple_of(10**40, 0.1)
    assert is_multiple_of(Decimal("21.4"), 0.1)
    assert is_multiple_of(6, 3)
    assert not is_multiple_of(7, 3)
    assert not is_multiple_of(4.11, 0.1)
    assert not is_multiple_of(float("inf"), 0.1)
    assert not is_multiple_of(float("nan"), 0.1)


def test_a_boolean_is_not_a_number() -> None:
    error = error_of("1.6", "SetChargingProfile", charging_profile_16(True))
    assert type(error) is exceptions.TypeConstraintViolationError
    error = error_of("1.6", "MeterValues", {**meter_values_16("V"), "connectorId": False})
    assert type(error) is exceptions.TypeConstraintViolationError


# --- formats --------------------------------------------------------------------------------------

STRICT, LENIENT, OFF = FormatPolicy.STRICT, FormatPolicy.LENIENT, FormatPolicy.OFF


@pytest.mark.parametrize(
    ("timestamp", "strict", "lenient"),
    [
        ("2024-01-01T12:00:00Z", True, True),
        ("2024-01-01T12:00:00.123456+02:00", True, True),
        ("2024-01-01t12:00:00z", True, True),
        ("2024-12-31T23:59:60Z", True, True),  # a leap second
        ("2024-02-29T12:00:00-05:30", True, True),
        ("2024-01-01T12:00:00", False, True),  # no zone: what real charge points send
        ("2024-01-01T12:00:00.5", False, True),
        ("2024-01-01T12:00:00+0200", False, True),
        ("2024-01-01T12:00:00+02", False, True),
        ("2023-02-29T12:00:00Z", False, False),
        ("2024-13-01T12:00:00Z", False, False),
        ("2024-01-01T24:00:00Z", False, False),
        ("2024-01-01T12:00:00+24:00", False, False),
        ("2024-01-01 12:00:00Z", False, False),
        ("2024-01-01T12:00Z", False, False),
        ("2024-01-01", False, False),
        ("yesterday", False, False),
        ("2024-01-01T12:00:00Z ", False, False),
        ("٢٠٢٤-01-01T12:00:00Z", False, False),  # non-ASCII digits
    ],
)
def test_date_time_per_policy(timestamp: str, strict: bool, lenient: bool) -> None:
    payload = {"location": "ftp://example.com/fw.bin", "retrieveDate": timestamp}
    assert is_accepted("1.6", "UpdateFirmware", payload, STRICT) is strict
    assert is_accepted("1.6", "UpdateFirmware", payload, LENIENT) is lenient
    assert is_accepted("1.6", "UpdateFirmware", payload, OFF)


@pytest.mark.parametrize(
    ("uri", "valid"),
    [
        ("ftp://user:secret@example.com:21/firmware/v2.bin", True),
        ("https://example.com/a%20b?x=1#top", True),
        ("urn:example:firmware", True),
        ("http://example.com/a b", False),
        ("/relative/path", False),
        ("example.com/firmware.bin", False),
        ("1http://example.com", False),
        ("http://example.com/%zz", False),
        ("", False),
    ],
)
def test_uri_is_absolute_in_strict_and_lenient(uri: str, valid: bool) -> None:
    payload = {"location": uri}
    assert is_accepted("1.6", "GetDiagnostics", payload, STRICT) is valid
    assert is_accepted("1.6", "GetDiagnostics", payload, LENIENT) is valid
    assert is_accepted("1.6", "GetDiagnostics", payload, OFF)


def test_a_bad_format_is_a_property_constraint_violation_with_its_path() -> None:
    payload = meter_values_16("V")
    payload["meterValue"][0]["timestamp"] = "noon"
    error = error_of("1.6", "MeterValues", payload)
    assert type(error) is exceptions.PropertyConstraintViolationError
    assert error.description == (
        "MeterValues request: meterValue[0].timestamp: 'noon' is not a valid 'date-time'"
    )


def test_lenient_is_the_default() -> None:
    payload = {"location": "ftp://example.com/fw.bin", "retrieveDate": "2024-01-01T12:00:00"}
    validate("1.6", "UpdateFirmware", REQUEST, payload)
    assert compile_validator("1.6", "UpdateFirmware", REQUEST) is compile_validator(
        "1.6", "UpdateFirmware", REQUEST, LENIENT
    )


# --- unknown actions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "kind"),
    [
        ("1.6", "Foo", REQUEST),
        ("2.0.1", "BootNotificationRequest", REQUEST),  # the 2.x action has no "Request" suffix
        ("1.6", "bootNotification", REQUEST),  # actions are case-sensitive
        ("2.0.1", "NotifyPeriodicEventStream", MessageKind.SEND),  # 2.1 only
        ("2.1", "NotifyPeriodicEventStream", RESPONSE),  # a SEND has no response
        ("1.6", "Heartbeat", MessageKind.SEND),
    ],
)
def test_an_unknown_action_is_not_implemented(version: str, action: str, kind: MessageKind) -> None:
    error = error_of(version, action, {}, kind)
    assert type(error) is exceptions.NotImplementedError
    assert error.code_for("1.6") == error.code_for("2.1") == "NotImplemented"
    assert repr(action) in error.description


def test_a_huge_unknown_action_name_is_not_echoed() -> None:
    error = error_of("2.1", "A" * 100_000, {})
    assert type(error) is exceptions.NotImplementedError
    assert len(error.description) < 100


# --- caching --------------------------------------------------------------------------------------


def test_validators_are_built_once() -> None:
    first = compile_validator("1.6", "MeterValues", REQUEST, LENIENT)
    assert compile_validator("1.6", "MeterValues", REQUEST, LENIENT) is first
    assert compile_validator("ocpp1.6", "MeterValues", REQUEST, LENIENT) is first
    assert compile_validator("1.6", "MeterValues", REQUEST, STRICT) is not first
    assert compile_validator("1.6", "MeterValues", RESPONSE, LENIENT) is not first


def test_unknown_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown OCPP version"):
        validate("1.5", "BootNotification", REQUEST, BOOT_16)


# --- huge values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {**BOOT_16, "chargePointModel": "x" * 100_000},
        {**BOOT_16, "chargePointVendor": {f"key{i}": "x" * 1000 for i in range(1000)}},
        {**BOOT_16, "chargePointVendor": ["x" * 1000] * 1000},
        {**BOOT_16, "x" * 100_000: 1},
        {**BOOT_16, "chargePointModel": 10**4000},
    ],
    ids=["long string", "huge object", "huge array", "huge key", "huge number"],
)
def test_huge_values_are_not_echoed(payload: dict[str, Any]) -> None:
    error = error_of("1.6", "BootNotification", payload)
    assert len(error.description) <= 150
    assert "x" * 41 not in error.description
    assert error.details == {}


def test_a_description_longer_than_255_characters_is_cut() -> None:
    # Real 2.1 descriptions come within a few characters of it; a deeper path is cut.
    name = "n" * 40
    schema: dict[str, Any] = {"type": "integer"}
    payload: Any = "not an integer"
    for _ in range(8):
        schema = {"type": "object", "properties": {name: schema}}
        payload = {name: payload}
    draft_04 = {"$schema": "http://json-schema.org/draft-04/schema#", **schema}
    validator = validator_class_for(draft_04)(draft_04)
    error = schema_error(next(validator.iter_errors(payload)), "Test", REQUEST)
    assert len(error.description) == 255
    assert error.description.startswith(f"Test request: {name}.{name}.")
    assert error.description.endswith("...")


# --- validate_payload with messages ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FakeCall:
    unique_id: str
    action: str
    payload: Any
    message_type_id: ClassVar[int] = 2


@dataclasses.dataclass(frozen=True)
class FakeCallResult:
    unique_id: str
    payload: Any
    action: str | None = None
    message_type_id: ClassVar[int] = 3


@dataclasses.dataclass(frozen=True)
class FakeSend:
    unique_id: str
    action: str
    payload: Any
    message_type_id: ClassVar[int] = 6


@dataclasses.dataclass(frozen=True)
class FakeCallError:
    unique_id: str
    action: str | None = "BootNotification"
    payload: Any = None
    message_type_id: ClassVar[int] = 4


BOOT_RESPONSE_16 = {"status": "Accepted", "currentTime": "2024-01-01T12:00:00Z", "interval": 300}


def test_validate_payload_of_a_call() -> None:
    validate_payload(FakeCall("1", "BootNotification", BOOT_16), "1.6")
    with pytest.raises(exceptions.OccurrenceConstraintViolationError):
        validate_payload(FakeCall("1", "BootNotification", {}), "ocpp1.6")


def test_validate_payload_of_a_call_result_uses_the_response_schema() -> None:
    validate_payload(FakeCallResult("1", BOOT_RESPONSE_16, "BootNotification"), "1.6")
    # A request payload is no response: its fields are not allowed there.
    with pytest.raises(exceptions.FormatViolationError, match="response: chargePointVendor"):
        validate_payload(FakeCallResult("1", BOOT_16, "BootNotification"), "1.6")


def test_a_call_result_without_its_action_cannot_be_validated() -> None:
    with pytest.raises(ValueError, match="action"):
        validate_payload(FakeCallResult("1", BOOT_RESPONSE_16), "1.6")


def test_validate_payload_of_a_send() -> None:
    schema = load_schema("2.1", "NotifyPeriodicEventStream", MessageKind.SEND)
    validate_payload(FakeSend("1", "NotifyPeriodicEventStream", full_payload(schema)), "2.1")
    with pytest.raises(exceptions.NotImplementedError):
        validate_payload(FakeSend("1", "NotifyPeriodicEventStream", minimal_payload(schema)), "1.6")


def test_other_message_types_have_no_payload_to_validate() -> None:
    with pytest.raises(ValueError, match="message type 4"):
        validate_payload(FakeCallError("1"), "1.6")


def test_validate_payload_passes_the_format_policy_on() -> None:
    response = {**BOOT_RESPONSE_16, "currentTime": "2024-01-01T12:00:00"}
    result = FakeCallResult("1", response, "BootNotification")
    validate_payload(result, "1.6")
    with pytest.raises(exceptions.PropertyConstraintViolationError):
        validate_payload(result, "1.6", formats=STRICT)


def test_generated_payloads_of_every_representative_schema_are_valid_in_strict_mode() -> None:
    # What trio-ocpp sends is checked STRICT; the helper's payloads must pass it too.
    for version, action, kind in REPRESENTATIVE:
        schema = load_schema(version, action, kind)
        for payload in (minimal_payload(schema), full_payload(schema)):
            validate(version, action, kind, payload, formats=STRICT)


# --- the kind: a member or its value --------------------------------------------------------------

KIND_CASES = [
    ("1.6", "BootNotification", "request"),
    ("1.6", "BootNotification", "response"),
    ("2.1", "NotifyPeriodicEventStream", "send"),
]


@pytest.mark.parametrize(("version", "action", "kind"), KIND_CASES)
def test_validate_takes_a_message_kind_or_its_value(version: str, action: str, kind: Any) -> None:
    member = MessageKind(kind)
    validate(version, action, kind, full_payload(load_schema(version, action, member)))
    as_text, as_member = error_of(version, action, {}, kind), error_of(version, action, {}, member)
    assert type(as_text) is type(as_member) is exceptions.OccurrenceConstraintViolationError
    assert as_text.description == as_member.description
    assert as_text.description.startswith(f"{action} {kind}: ")


def test_validate_refuses_another_kind() -> None:
    with pytest.raises(ValueError, match="'Request' is not a valid MessageKind"):
        validate("1.6", "BootNotification", "Request", BOOT_16)  # type: ignore[arg-type]

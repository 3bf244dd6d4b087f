"""The ``ocpp`` package's helpers and arguments that ported code uses, here with the same
meaning: ``ChargePoint(logger=...)``, ``remove_nones``, ``serialize_as_dict``,
``create_route_map``, ``messages.get_validator`` and ``exceptions.ValidationError``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import v16

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def test_a_charge_point_logs_through_the_logger_it_was_given(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    for logger, name in [(logging.getLogger("ocpp"), "ocpp"), (None, "trio_ocpp.charge_point")]:
        caplog.clear()
        options: dict[str, Any] = {} if logger is None else {"logger": logger}
        cp = v16.ChargePoint("CP", MemoryConnection(), **options)
        async with running(cp) as connection:
            await connection.exchange(json.dumps([2, "1", "BootNotification", BOOT]))
        lines = [(r.name, r.getMessage()) for r in caplog.records]
        assert (
            name,
            f'CP: receive message [2, "1", "BootNotification", {json.dumps(BOOT)}]',
        ) in lines
        assert any(n == name and m.startswith("CP: send [4,") for n, m in lines), lines


def test_a_message_without_a_schema_raises_validation_error() -> None:
    from trio_ocpp.exceptions import ValidationError
    from trio_ocpp.messages import CallError, CallResult, validate_payload

    with pytest.raises(ValidationError, match="message type 4"):
        validate_payload(CallError("1", "GenericError", "", {}), "1.6")
    with pytest.raises(ValidationError, match="action"):
        validate_payload(CallResult("1", {}), "1.6")
    assert issubclass(ValidationError, ValueError)  # what it raised before, still caught


def test_remove_nones_as_in_the_ocpp_package() -> None:
    import ocpp.charge_point

    from trio_ocpp.charge_point import remove_nones

    data: Any = {"a": None, "b": [None, 1, {"c": None, "d": [None]}], "e": {"f": None}}
    assert (
        remove_nones(data)
        == ocpp.charge_point.remove_nones(data)
        == {
            "b": [1, {"d": []}],
            "e": {},
        }
    )
    assert remove_nones([None, {"x": None}]) == [{}]


def test_serialize_as_dict_as_in_the_ocpp_package() -> None:
    import ocpp.charge_point
    import ocpp.v201

    from trio_ocpp import v201
    from trio_ocpp.charge_point import serialize_as_dict

    def boot(package: Any) -> Any:
        station = package.datatypes.ChargingStationType(model="M", vendor_name="V")
        return package.call.BootNotification(charging_station=station, reason="PowerUp")

    ours, theirs = (
        serialize_as_dict(boot(v201)),
        ocpp.charge_point.serialize_as_dict(boot(ocpp.v201)),
    )
    # The same dict, but for customData, which the ocpp package's 2.0.1 classes lack.
    assert ours["charging_station"].pop("custom_data") is None
    assert ours == theirs


def test_create_route_map_lists_handlers_as_the_ocpp_package_does() -> None:
    from trio_ocpp.routing import after, create_route_map, on

    class CentralSystem(v16.ChargePoint):
        @on("BootNotification", skip_schema_validation=True)
        def boot(self, **kwargs: Any) -> None: ...

        @after("BootNotification")
        def booted(self) -> None: ...

        @on("Heartbeat")
        def heartbeat(self) -> None: ...

    cp = CentralSystem("CP", MemoryConnection())
    routes = create_route_map(cp)
    assert routes == {
        "BootNotification": {
            "_on_action": cp.boot,
            "_after_action": cp.booted,
            "_skip_schema_validation": True,
        },
        "Heartbeat": {"_on_action": cp.heartbeat, "_skip_schema_validation": False},
    }
    assert v16.enums.Action.heartbeat in routes  # keyed as the wire name: enum members match


def test_get_validator_takes_the_ocpp_package_arguments() -> None:
    import jsonschema

    from trio_ocpp.messages import MessageType, get_validator

    validator = get_validator(MessageType.Call, "BootNotification", "1.6")
    assert validator is get_validator(2, "BootNotification", "1.6")  # built once
    validator.validate(BOOT)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"chargePointVendor": "V"})
    response = get_validator(MessageType.CallResult, "Heartbeat", "2.0.1", parse_float=float)
    assert response.is_valid({"currentTime": "no format check, as in the ocpp package"})
    with pytest.raises(ValueError, match="message type 4"):
        get_validator(MessageType.CallError, "Heartbeat", "2.0.1")

"""The ``ocpp`` package's helpers and arguments that ported code uses, here with the same
meaning: ``ChargePoint(logger=...)``, ``remove_nones``, ``serialize_as_dict``,
``create_route_map``, ``messages.get_validator`` and ``exceptions.ValidationError``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from memory_connection import MemoryConnection

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
        await cp.route_message(json.dumps([2, "1", "BootNotification", BOOT]))
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

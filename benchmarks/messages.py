"""The representative messages every benchmark uses: each a CALL as a peer sends it, and the
response a handler returns. Plain data, so that the load generator starts quickly."""

from __future__ import annotations

import json
from typing import Any

import attrs

TIME = "2024-05-01T12:00:00Z"


@attrs.frozen
class Message:
    """One benchmarked CALL: its name in the tables, version, action and both payloads."""

    name: str
    version: str
    action: str
    request: dict[str, Any]
    response: dict[str, Any]

    def frame(self, unique_id: str = "1") -> str:
        return json.dumps([2, unique_id, self.action, self.request], separators=(",", ":"))


def _sampled_values_16() -> list[dict[str, Any]]:
    measurands = [
        ("Energy.Active.Import.Register", "Wh", "1234.5"),
        ("Power.Active.Import", "W", "7200"),
        ("Current.Import", "A", "31.2"),
        ("Voltage", "V", "230.1"),
    ]
    return [
        {
            "value": value,
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": measurand,
            "location": "Outlet",
            "unit": unit,
        }
        for measurand, unit, value in measurands
    ]


def _sampled_values_201() -> list[dict[str, Any]]:
    measurands = [
        ("Energy.Active.Import.Register", "Wh", 1234.5),
        ("Power.Active.Import", "W", 7200),
        ("Current.Import", "A", 31.2),
        ("Voltage", "V", 230.1),
    ]
    return [
        {
            "value": value,
            "context": "Sample.Periodic",
            "measurand": measurand,
            "location": "Outlet",
            "unitOfMeasure": {"unit": unit, "multiplier": 0},
        }
        for measurand, unit, value in measurands
    ]


def _report_data(count: int) -> list[dict[str, Any]]:
    return [
        {
            "component": {"name": f"Component{i // 5}", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": f"Variable{i}", "instance": "Main"},
            "variableAttribute": [
                {"type": "Actual", "value": str(i), "mutability": "ReadWrite", "persistent": True},
                {"type": "Target", "value": str(i + 1), "mutability": "ReadWrite"},
            ],
            "variableCharacteristics": {
                "unit": "W",
                "dataType": "decimal",
                "minLimit": 0,
                "maxLimit": 22000,
                "supportsMonitoring": True,
            },
        }
        for i in range(count)
    ]


MESSAGES: tuple[Message, ...] = (
    Message(
        "1.6 BootNotification",
        "1.6",
        "BootNotification",
        {
            "chargePointVendor": "VendorX",
            "chargePointModel": "ModelY",
            "chargePointSerialNumber": "SN-0001",
            "firmwareVersion": "1.2.3",
        },
        {"status": "Accepted", "currentTime": TIME, "interval": 300},
    ),
    Message(
        "1.6 MeterValues",
        "1.6",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 42,
            "meterValue": [{"timestamp": TIME, "sampledValue": _sampled_values_16()}],
        },
        {},
    ),
    Message(
        "1.6 SetChargingProfile",
        "1.6",
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "validFrom": TIME,
                "chargingSchedule": {
                    "duration": 86400,
                    "startSchedule": TIME,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 3600 * i, "limit": 16 + i / 10, "numberPhases": 3}
                        for i in range(6)
                    ],
                    "minChargingRate": 6.1,
                },
            },
        },
        {"status": "Accepted"},
    ),
    Message(
        "2.0.1 TransactionEvent",
        "2.0.1",
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": TIME,
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 3,
            "transactionInfo": {"transactionId": "tx-42", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": TIME, "sampledValue": _sampled_values_201()}],
        },
        {"totalCost": 4.2},
    ),
    Message(
        "2.0.1 NotifyReport (50)",
        "2.0.1",
        "NotifyReport",
        {
            "requestId": 1,
            "generatedAt": TIME,
            "seqNo": 0,
            "tbc": False,
            "reportData": _report_data(50),
        },
        {},
    ),
    Message(
        "2.1 NotifySettlement",
        "2.1",
        "NotifySettlement",
        {
            "transactionId": "tx-42",
            "pspRef": "psp-7781",
            "status": "Settled",
            "settlementAmount": 12.34,
            "settlementTime": TIME,
            "receiptId": "r-1",
            "vatNumber": "NL123456789B01",
            "vatCompany": {
                "name": "Fleet BV",
                "address1": "Main Street 1",
                "city": "Arnhem",
                "postalCode": "6811",
                "country": "NL",
            },
        },
        {"receiptUrl": "https://example.com/receipts/r-1", "receiptId": "r-1"},
    ),
)

BY_NAME = {message.name: message for message in MESSAGES}
#: The message of the end-to-end and connection benchmarks (as in the issue's figures).
BOOT = BY_NAME["1.6 BootNotification"]
HEARTBEAT = Message("1.6 Heartbeat", "1.6", "Heartbeat", {}, {"currentTime": TIME})

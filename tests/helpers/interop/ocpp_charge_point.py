"""A charge point built on the ``ocpp`` package (asyncio, websockets): the peer of test_interop.

Usage: ``python ocpp_charge_point.py VERSION URL``, VERSION one of 1.6, 2.0.1, 2.1. It connects,
sends its everyday messages and prints ``{"event": "results", ...}``: what the central system
answered, and the CALLERROR it got for an action the central system does not handle. Then it
answers the central system's calls until the connection closes, and prints ``{"event":
"received", "calls": [...]}`` (what its handlers got) before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from peer_common import DEADLINE, Recorder, emit, error_of, now


class CP16(Recorder, ChargePoint16):
    calls = call16

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kwargs: Any) -> result16.RemoteStartTransaction:
        self.record("RemoteStartTransaction", **kwargs)
        return result16.RemoteStartTransaction(status="Accepted")

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> result16.GetConfiguration:
        self.record("GetConfiguration", **kwargs)
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            unknown_key=[k for k in kwargs.get("key", []) if k != "HeartbeatInterval"],
        )

    @on("Reset")
    def on_reset(self, **kwargs: Any) -> result16.Reset:
        self.record("Reset", **kwargs)
        return result16.Reset(status="Accepted")

    async def exchange(self) -> dict[str, Any]:
        results = {
            "BootNotification": await self.call(
                call16.BootNotification(charge_point_vendor="Ocpp Pkg", charge_point_model="M1"),
                suppress=False,
            ),
            "Heartbeat": await self.call(call16.Heartbeat(), suppress=False),
            "Authorize": await self.call(call16.Authorize(id_tag="TAG1"), suppress=False),
            "StartTransaction": await self.call(
                call16.StartTransaction(
                    connector_id=1, id_tag="TAG1", meter_start=100, timestamp=now()
                ),
                suppress=False,
            ),
        }
        tx = results["StartTransaction"].transaction_id
        results["MeterValues"] = await self.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {"timestamp": now(), "sampled_value": [{"value": "1500", "unit": "Wh"}]}
                ],
            ),
            suppress=False,
        )
        results["StopTransaction"] = await self.call(
            call16.StopTransaction(
                meter_stop=2500, timestamp=now(), transaction_id=tx, id_tag="TAG1"
            ),
            suppress=False,
        )
        return results


class CP2x(Recorder):
    """2.0.1 and 2.1 alike; ``calls``/``results`` are the version's modules."""

    calls: Any
    results: Any

    @on("RequestStartTransaction")
    def on_request_start(self, **kwargs: Any) -> Any:
        self.record("RequestStartTransaction", **kwargs)
        return self.results.RequestStartTransaction(status="Accepted", transaction_id="TX-9")

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        self.record("GetVariables", get_variable_data=get_variable_data)
        return self.results.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "300",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )

    @on("Reset")
    def on_reset(self, **kwargs: Any) -> Any:
        self.record("Reset", **kwargs)
        return self.results.Reset(status="Accepted")

    async def exchange(self) -> dict[str, Any]:
        id_token = {"id_token": "TAG1", "type": "ISO14443"}
        tx_info = {"transaction_id": "TX-1"}
        event = {"timestamp": now(), "evse": {"id": 1, "connector_id": 1}}
        sample = [{"timestamp": now(), "sampled_value": [{"value": 1500.5}]}]
        return {
            "BootNotification": await self.call(
                self.calls.BootNotification(
                    charging_station={"model": "M1", "vendor_name": "Ocpp Pkg"}, reason="PowerUp"
                ),
                suppress=False,
            ),
            "Heartbeat": await self.call(self.calls.Heartbeat(), suppress=False),
            "Authorize": await self.call(self.calls.Authorize(id_token=id_token), suppress=False),
            "TransactionEventStarted": await self.call(
                self.calls.TransactionEvent(
                    event_type="Started",
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info=tx_info,
                    id_token=id_token,
                    **event,
                ),
                suppress=False,
            ),
            "MeterValues": await self.call(
                self.calls.MeterValues(evse_id=1, meter_value=sample), suppress=False
            ),
            "TransactionEventEnded": await self.call(
                self.calls.TransactionEvent(
                    event_type="Ended",
                    trigger_reason="StopAuthorized",
                    seq_no=1,
                    transaction_info={**tx_info, "stopped_reason": "Local"},
                    **event,
                ),
                suppress=False,
            ),
        }


class CP201(CP2x, ChargePoint201):
    calls = call201
    results = result201


class CP21(CP2x, ChargePoint21):
    calls = call21
    results = result21


CLASSES: dict[str, Any] = {"1.6": CP16, "2.0.1": CP201, "2.1": CP21}
SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}


async def main(version: str, url: str) -> None:
    cls, subprotocol = CLASSES[version], SUBPROTOCOLS[version]
    async with websockets.connect(url, subprotocols=[subprotocol]) as ws:
        assert ws.subprotocol == subprotocol, ws.subprotocol
        cp = cls(url.rsplit("/", 1)[-1], ws)
        serving = asyncio.create_task(cp.start())
        results = await cp.exchange()
        # An action the central system has no handler for.
        data_transfer = cls.calls.DataTransfer(vendor_id="X")
        errors = {"DataTransfer": await error_of(cp, data_transfer)}
        emit(
            "results",
            results={k: dataclasses.asdict(v) for k, v in results.items()},
            errors=errors,
        )
        # Answer the central system's calls until it closes the connection.
        with contextlib.suppress(websockets.ConnectionClosed):
            await serving
        emit("received", calls=cp.received)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), DEADLINE))

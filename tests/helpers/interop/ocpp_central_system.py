"""A central system built on the ``ocpp`` package (asyncio, websockets): the peer of test_interop.

Usage: ``python ocpp_central_system.py VERSION [close]``, VERSION one of 1.6, 2.0.1, 2.1. It
listens on 127.0.0.1, port chosen by the system, and prints ``{"event": "listening", "port": N}``.
One charge point connects and sends its messages; when a line arrives on stdin, the central
system sends its own calls to the charge point and prints ``{"event": "results", ...}``: the
answers, and the CALLERROR it got for an action the charge point does not handle. Then it waits
for the charge point to disconnect, or with ``close`` closes the connection itself and prints
``{"event": "closed", "seconds": S}`` (how long its ``close()`` took). Last it prints
``{"event": "received", "calls": [...]}`` (what its handlers got) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time
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


class CS16(Recorder, ChargePoint16):
    calls = call16

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> result16.BootNotification:
        self.record("BootNotification", **kwargs)
        return result16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> result16.Heartbeat:
        self.record("Heartbeat")
        return result16.Heartbeat(current_time=now())

    @on("Authorize")
    def on_authorize(self, **kwargs: Any) -> result16.Authorize:
        self.record("Authorize", **kwargs)
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    def on_start_transaction(self, **kwargs: Any) -> result16.StartTransaction:
        self.record("StartTransaction", **kwargs)
        return result16.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> result16.MeterValues:
        self.record("MeterValues", **kwargs)
        return result16.MeterValues()

    @on("StopTransaction")
    def on_stop_transaction(self, **kwargs: Any) -> result16.StopTransaction:
        self.record("StopTransaction", **kwargs)
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})

    async def exchange(self) -> dict[str, Any]:
        return {
            "RemoteStartTransaction": await self.call(
                call16.RemoteStartTransaction(id_tag="TAG2", connector_id=1), suppress=False
            ),
            "GetConfiguration": await self.call(
                call16.GetConfiguration(key=["HeartbeatInterval", "Nope"]), suppress=False
            ),
            "Reset": await self.call(call16.Reset(type="Soft"), suppress=False),
        }


class CS2x(Recorder):
    """2.0.1 and 2.1 alike; ``calls``/``results`` are the version's modules."""

    calls: Any
    results: Any

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> Any:
        self.record("BootNotification", **kwargs)
        return self.results.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        self.record("Heartbeat")
        return self.results.Heartbeat(current_time=now())

    @on("Authorize")
    def on_authorize(self, **kwargs: Any) -> Any:
        self.record("Authorize", **kwargs)
        return self.results.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        self.record("TransactionEvent", **kwargs)
        if kwargs["event_type"] == "Started":
            return self.results.TransactionEvent(id_token_info={"status": "Accepted"})
        return self.results.TransactionEvent()

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        self.record("MeterValues", **kwargs)
        return self.results.MeterValues()

    async def exchange(self) -> dict[str, Any]:
        return {
            "RequestStartTransaction": await self.call(
                self.calls.RequestStartTransaction(
                    id_token={"id_token": "TAG2", "type": "ISO14443"}, remote_start_id=7, evse_id=1
                ),
                suppress=False,
            ),
            "GetVariables": await self.call(
                self.calls.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                ),
                suppress=False,
            ),
            "Reset": await self.call(self.calls.Reset(type="OnIdle"), suppress=False),
        }


class CS201(CS2x, ChargePoint201):
    calls = call201
    results = result201


class CS21(CS2x, ChargePoint21):
    calls = call21
    results = result21


CLASSES: dict[str, Any] = {"1.6": CS16, "2.0.1": CS201, "2.1": CS21}
SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}


#: With ``close``: how long the central system waits for the client to close TCP after the
#: closing handshake (websockets' ``close_timeout``).
CLOSE_TIMEOUT = 2


async def main(version: str, close: bool) -> None:
    cls, subprotocol = CLASSES[version], SUBPROTOCOLS[version]
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def on_connect(ws: Any) -> None:
        if ws.subprotocol != subprotocol:
            await ws.close()
            return
        cs = cls(ws.request.path.rsplit("/", 1)[-1], ws)
        serving = asyncio.create_task(cs.start())
        # The test says when its charge point is done with its own messages.
        await loop.run_in_executor(None, sys.stdin.readline)
        results = await cs.exchange()
        # An action the charge point has no handler for.
        clear_cache = cls.calls.ClearCache()
        errors = {"ClearCache": await error_of(cs, clear_cache)}
        emit(
            "results",
            results={k: dataclasses.asdict(v) for k, v in results.items()},
            errors=errors,
        )
        if close:
            start = time.monotonic()
            await ws.close()
            emit("closed", seconds=time.monotonic() - start)
        with contextlib.suppress(websockets.ConnectionClosed):
            await serving
        emit("received", calls=cs.received)
        done.set()

    async with websockets.serve(
        on_connect, "127.0.0.1", 0, subprotocols=[subprotocol], close_timeout=CLOSE_TIMEOUT
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit("listening", port=port)
        await done.wait()


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1], "close" in sys.argv[2:]), DEADLINE))

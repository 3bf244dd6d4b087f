"""Interop with a real peer: the ``ocpp`` package (2.1.0, asyncio on websockets), in a subprocess.

Both directions, in OCPP 1.6, 2.0.1 and 2.1:

- their charge point (tests/interop/ocpp_charge_point.py) -> our ``Server``: their everyday
  messages to us, then our calls to them through ``server.get(id).call(...)``; the same with our
  ChargePoints on connections made by websockets' trio server (the ocpp package's handler,
  ported) and by trio-websocket's;
- our client (``trio_ocpp.connect``) -> their central system (tests/interop/ocpp_central_system.py):
  our everyday messages to them, then their calls to us.

Each side checks what it got: ours in the test, theirs from the JSON lines the script prints
(``results``: the answers it got; ``received``: what its handlers were called with).

In the second direction our charge point ends the connection, as charge points do; the last
test shows what happens when their central system closes it instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import trio
import trio_websocket
from helpers.interop.peers import SESSION_2X_CALLS, open_process, script

import trio_ocpp
from trio_ocpp import exceptions, v16, v21, v201
from trio_ocpp.routing import on

#: A whole test, subprocess start-up included, stays well under this.
TEST_LIMIT = 15


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


class Recorder:
    """Keeps what our handlers got, as (action, keyword arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    def record(self, action: str, **kwargs: Any) -> None:
        self.received.append((action, kwargs))

    def got(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.received if name == action]


# -- our central system ---------------------------------------------------------------------------


class CentralSystem16(Recorder, v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        self.record("BootNotification", **kwargs)
        return v16.call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        self.record("Heartbeat")
        return v16.call_result.Heartbeat(current_time=now())

    @on("Authorize")
    def on_authorize(self, **kwargs: Any) -> v16.call_result.Authorize:
        self.record("Authorize", **kwargs)
        return v16.call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    def on_start_transaction(self, **kwargs: Any) -> v16.call_result.StartTransaction:
        self.record("StartTransaction", **kwargs)
        return v16.call_result.StartTransaction(
            transaction_id=42, id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> v16.call_result.MeterValues:
        self.record("MeterValues", **kwargs)
        return v16.call_result.MeterValues()

    @on("StopTransaction")
    async def on_stop_transaction(self, **kwargs: Any) -> v16.call_result.StopTransaction:
        self.record("StopTransaction", **kwargs)
        return v16.call_result.StopTransaction(id_tag_info={"status": "Accepted"})


class CentralSystem2x(Recorder):
    """2.0.1 and 2.1 alike; ``results`` is the version's call_result module."""

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
    async def on_meter_values(self, **kwargs: Any) -> Any:
        self.record("MeterValues", **kwargs)
        return self.results.MeterValues()


class CentralSystem201(CentralSystem2x, v201.ChargePoint):
    results = v201.call_result


class CentralSystem21(CentralSystem2x, v21.ChargePoint):
    results = v21.call_result


# -- our charge point -----------------------------------------------------------------------------


class ChargePoint16(Recorder, v16.ChargePoint):
    @on("RemoteStartTransaction")
    def on_remote_start(self, **kwargs: Any) -> v16.call_result.RemoteStartTransaction:
        self.record("RemoteStartTransaction", **kwargs)
        return v16.call_result.RemoteStartTransaction(status="Accepted")

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str]) -> v16.call_result.GetConfiguration:
        self.record("GetConfiguration", key=key)
        return v16.call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            unknown_key=[k for k in key if k != "HeartbeatInterval"],
        )

    @on("Reset")
    def on_reset(self, **kwargs: Any) -> v16.call_result.Reset:
        self.record("Reset", **kwargs)
        return v16.call_result.Reset(status="Accepted")


class ChargePoint2x(Recorder):
    """2.0.1 and 2.1 alike; ``results`` is the version's call_result module."""

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


class ChargePoint201(ChargePoint2x, v201.ChargePoint):
    results = v201.call_result


class ChargePoint21(ChargePoint2x, v21.ChargePoint):
    results = v21.call_result


V2X: dict[str, Any] = {"2.0.1": v201, "2.1": v21}
CHARGE_POINTS_2X: dict[str, type[ChargePoint2x]] = {"2.0.1": ChargePoint201, "2.1": ChargePoint21}


# -- their charge point -> our central system -----------------------------------------------------


#: Their charge point connects to each: our Server, and ChargePoints run by a handler of
#: websockets' trio server (written as the ocpp package's examples write it, ported) and of
#: trio-websocket's. ``lookup(identity)`` finds the ChargePoint of a connection.
Serving = Callable[[trio.Nursery], AsyncContextManager[tuple[int, Callable[[str], Any]]]]
OUR_CLASSES: dict[str, type[trio_ocpp.v16.ChargePoint | Any]] = {
    "ocpp1.6": CentralSystem16,
    "ocpp2.0.1": CentralSystem201,
    "ocpp2.1": CentralSystem21,
}


@asynccontextmanager
async def our_server(nursery: trio.Nursery) -> AsyncIterator[tuple[int, Callable[[str], Any]]]:
    server = trio_ocpp.Server(list(OUR_CLASSES.values()))
    await nursery.start(server.run, "127.0.0.1", 0)
    yield server.port, server.get


@asynccontextmanager
async def websockets_trio_server(
    nursery: trio.Nursery,
) -> AsyncIterator[tuple[int, Callable[[str], Any]]]:
    from websockets.trio.server import serve

    charge_points: dict[str, Any] = {}

    async def on_connect(websocket: Any) -> None:
        # The ocpp package's example handler; only websocket.close() is aclose() on trio.
        try:
            websocket.request.headers["Sec-WebSocket-Protocol"]
        except KeyError:
            return await websocket.aclose()  # type: ignore[no-any-return]
        if not websocket.subprotocol:
            return await websocket.aclose()  # type: ignore[no-any-return]
        charge_point_id = websocket.request.path.strip("/")
        cp = OUR_CLASSES[websocket.subprotocol](charge_point_id, websocket)
        charge_points[charge_point_id] = cp
        await cp.start()

    subprotocols = list(OUR_CLASSES)
    server = await nursery.start(
        partial(serve, on_connect, 0, host="127.0.0.1", subprotocols=subprotocols)
    )
    yield server.listeners[0].socket.getsockname()[1], charge_points.get


@asynccontextmanager
async def trio_websocket_server(
    nursery: trio.Nursery,
) -> AsyncIterator[tuple[int, Callable[[str], Any]]]:
    charge_points: dict[str, Any] = {}

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        offered = [sub for sub in request.proposed_subprotocols if sub in OUR_CLASSES]
        ws = await request.accept(subprotocol=offered[0])
        identity = request.path.strip("/")
        cp = charge_points[identity] = OUR_CLASSES[offered[0]](identity, ws)
        await cp.start()

    server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    yield server.port, charge_points.get


SERVING: dict[str, Serving] = {
    "Server": our_server,
    "websockets.trio": websockets_trio_server,
    "trio-websocket": trio_websocket_server,
}


async def run_their_charge_point(
    version: str, identity: str, test: Any, serving: str = "Server"
) -> None:
    """Start a server of ours, run their charge point against it, and hand the lookup of our
    ChargePoints and their process to ``test``."""
    with trio.fail_after(TEST_LIMIT):
        async with trio.open_nursery() as nursery:
            async with SERVING[serving](nursery) as (port, lookup):
                url = f"ws://127.0.0.1:{port}/{identity}"
                async with open_process(
                    ["python", script("ocpp_charge_point.py"), version, url],
                    name="their charge point",
                ) as peer:
                    await test(lookup, peer)
                    assert await peer.wait() == 0, peer.report()
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("serving", SERVING)
async def test_their_charge_point_16(serving: str) -> None:
    async def test(lookup: Callable[[str], Any], peer: Any) -> None:
        event = await peer.event("results")
        results = event["results"]
        # What our central system answered, as their charge point read it.
        assert results["BootNotification"]["status"] == "Accepted"
        assert results["BootNotification"]["interval"] == 300
        assert "current_time" in results["Heartbeat"]
        assert results["Authorize"] == {"id_tag_info": {"status": "Accepted"}}
        assert results["StartTransaction"]["transaction_id"] == 42
        assert results["MeterValues"] == {}
        assert results["StopTransaction"]["id_tag_info"] == {"status": "Accepted"}
        # Defined by 1.6, no handler here: NotSupported (CONFORMANCE 17), readable by them.
        assert event["errors"]["DataTransfer"]["code"] == "NotSupported"

        cp = lookup("OCPP_CP_16")
        assert isinstance(cp, CentralSystem16), cp
        assert cp.ocpp_version == "1.6"
        # What their charge point sent, as our handlers got it.
        assert [action for action, _ in cp.received] == [
            "BootNotification",
            "Heartbeat",
            "Authorize",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]
        assert cp.got("BootNotification") == [
            {"charge_point_vendor": "Ocpp Pkg", "charge_point_model": "M1"}
        ]
        assert cp.got("Authorize") == [{"id_tag": "TAG1"}]
        (start,) = cp.got("StartTransaction")
        assert start["connector_id"] == 1 and start["meter_start"] == 100
        (meter,) = cp.got("MeterValues")
        assert meter["transaction_id"] == 42
        assert meter["meter_value"][0]["sampled_value"] == [{"value": "1500", "unit": "Wh"}]
        (stop,) = cp.got("StopTransaction")
        assert stop["transaction_id"] == 42 and stop["meter_stop"] == 2500

        # Our central system calls their charge point.
        with trio.fail_after(5):
            start_result = await cp.call(
                v16.call.RemoteStartTransaction(id_tag="TAG2", connector_id=1)
            )
            config = await cp.call(v16.call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
            reset = await cp.call(v16.call.Reset(type="Soft"))
        assert start_result.status == "Accepted"
        assert config.configuration_key == [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
        ]
        assert config.unknown_key == ["Nope"]
        assert reset.status == "Accepted"
        # No handler there: the ocpp package answers NotImplemented (it has the two codes of
        # CONFORMANCE 17 the other way round); we raise the error of the code we got.
        with trio.fail_after(5), pytest.raises(exceptions.NotImplementedError) as raised:
            await cp.call(v16.call.ClearCache())
        assert "ClearCache" in str(raised.value.details)
        await cp.aclose()

        received = (await peer.event("received"))["calls"]
        assert received == [
            {"action": "RemoteStartTransaction", "kwargs": {"id_tag": "TAG2", "connector_id": 1}},
            {"action": "GetConfiguration", "kwargs": {"key": ["HeartbeatInterval", "Nope"]}},
            {"action": "Reset", "kwargs": {"type": "Soft"}},
        ]

    await run_their_charge_point("1.6", "OCPP_CP_16", test, serving)


@pytest.mark.parametrize("serving", SERVING)
@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_their_charge_point_2x(version: str, serving: str) -> None:
    messages = V2X[version]

    async def test(lookup: Callable[[str], Any], peer: Any) -> None:
        event = await peer.event("results")
        results = event["results"]
        assert results["BootNotification"]["status"] == "Accepted"
        assert results["BootNotification"]["interval"] == 300
        assert "current_time" in results["Heartbeat"]
        assert results["Authorize"]["id_token_info"] == {"status": "Accepted"}
        assert results["TransactionEventStarted"]["id_token_info"] == {"status": "Accepted"}
        assert results["MeterValues"]["custom_data"] is None
        assert results["TransactionEventEnded"]["id_token_info"] is None
        assert event["errors"]["DataTransfer"]["code"] == "NotSupported"

        cp = lookup(f"OCPP_CP_{version}")
        assert isinstance(cp, CentralSystem2x), cp
        assert cp.ocpp_version == version
        assert [action for action, _ in cp.received] == SESSION_2X_CALLS
        assert cp.got("BootNotification") == [
            {"charging_station": {"model": "M1", "vendor_name": "Ocpp Pkg"}, "reason": "PowerUp"}
        ]
        assert cp.got("Authorize") == [{"id_token": {"id_token": "TAG1", "type": "ISO14443"}}]
        started, ended = cp.got("TransactionEvent")
        assert started["event_type"] == "Started" and started["seq_no"] == 0
        assert started["transaction_info"] == {"transaction_id": "TX-1"}
        assert started["evse"] == {"id": 1, "connector_id": 1}
        assert started["id_token"] == {"id_token": "TAG1", "type": "ISO14443"}
        assert ended["event_type"] == "Ended" and ended["trigger_reason"] == "StopAuthorized"
        assert ended["transaction_info"] == {"transaction_id": "TX-1", "stopped_reason": "Local"}
        (meter,) = cp.got("MeterValues")
        assert meter["evse_id"] == 1
        assert meter["meter_value"][0]["sampled_value"] == [{"value": 1500.5}]

        with trio.fail_after(5):
            start_result = await cp.call(
                messages.call.RequestStartTransaction(
                    id_token={"id_token": "TAG2", "type": "ISO14443"}, remote_start_id=7, evse_id=1
                )
            )
            variables = await cp.call(
                messages.call.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                )
            )
            reset = await cp.call(messages.call.Reset(type="OnIdle"))
        assert start_result.status == "Accepted"
        assert start_result.transaction_id == "TX-9"
        assert variables.get_variable_result == [
            {
                "attribute_status": "Accepted",
                "attribute_value": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
        assert reset.status == "Accepted"
        if version == "2.0.1":  # in 2.1 the ocpp package never answers a CALL it can't route
            with trio.fail_after(5), pytest.raises(exceptions.NotImplementedError) as raised:
                await cp.call(messages.call.ClearCache())
            assert "ClearCache" in str(raised.value.details)
        await cp.aclose()

        received = (await peer.event("received"))["calls"]
        assert [c["action"] for c in received] == [
            "RequestStartTransaction",
            "GetVariables",
            "Reset",
        ]
        assert received[0]["kwargs"] == {
            "id_token": {"id_token": "TAG2", "type": "ISO14443"},
            "remote_start_id": 7,
            "evse_id": 1,
        }
        assert received[1]["kwargs"]["get_variable_data"] == [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
        assert received[2]["kwargs"] == {"type": "OnIdle"}

    await run_their_charge_point(version, f"OCPP_CP_{version}", test, serving)


# -- our charge point -> their central system -----------------------------------------------------


async def run_their_central_system(version: str, test: Any, *options: str) -> None:
    """Start their central system and hand it and its URL to ``test``."""
    with trio.fail_after(TEST_LIMIT):
        async with open_process(
            ["python", script("ocpp_central_system.py"), version, *options],
            name="their central system",
        ) as peer:
            port = (await peer.event("listening"))["port"]
            await test(peer, f"ws://127.0.0.1:{port}")
            assert await peer.wait() == 0, peer.report()


async def test_their_central_system_16() -> None:
    async def test(peer: Any, url: str) -> None:
        async with trio_ocpp.connect(url, ChargePoint16, identity="TRIO_CP_16") as cp:
            with trio.fail_after(5):
                boot = await cp.call(
                    v16.call.BootNotification(charge_point_vendor="trio", charge_point_model="T1")
                )
                heartbeat = await cp.call(v16.call.Heartbeat())
                authorize = await cp.call(v16.call.Authorize(id_tag="TAG1"))
                start = await cp.call(
                    v16.call.StartTransaction(
                        connector_id=1, id_tag="TAG1", meter_start=100, timestamp=now()
                    )
                )
                meter = await cp.call(
                    v16.call.MeterValues(
                        connector_id=1,
                        transaction_id=start.transaction_id,
                        meter_value=[
                            {"timestamp": now(), "sampled_value": [{"value": "1500", "unit": "Wh"}]}
                        ],
                    )
                )
                stop = await cp.call(
                    v16.call.StopTransaction(
                        meter_stop=2500,
                        timestamp=now(),
                        transaction_id=start.transaction_id,
                        id_tag="TAG1",
                    )
                )
            assert boot.status == "Accepted" and boot.interval == 300
            assert heartbeat.current_time
            assert authorize.id_tag_info == {"status": "Accepted"}
            assert start.transaction_id == 42
            assert meter == v16.call_result.MeterValues()
            assert stop.id_tag_info == {"status": "Accepted"}

            # No handler there: the ocpp package answers NotImplemented (see above).
            with trio.fail_after(5), pytest.raises(exceptions.NotImplementedError):
                await cp.call(v16.call.DataTransfer(vendor_id="X"))

            # Now their central system calls us.
            await peer.send_line("go")
            event = await peer.event("results")
            results = event["results"]
        # Their central system is done: we disconnect, and it reports what it got.
        assert results["RemoteStartTransaction"] == {"status": "Accepted"}
        assert results["GetConfiguration"] == {
            "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknown_key": ["Nope"],
        }
        assert results["Reset"] == {"status": "Accepted"}
        # Their CALL of an action our charge point has no handler for: NotSupported.
        assert event["errors"]["ClearCache"]["code"] == "NotSupported"
        assert cp.received == [
            ("RemoteStartTransaction", {"id_tag": "TAG2", "connector_id": 1}),
            ("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}),
            ("Reset", {"type": "Soft"}),
        ]

        received = (await peer.event("received"))["calls"]
        assert [c["action"] for c in received] == [
            "BootNotification",
            "Heartbeat",
            "Authorize",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]
        assert received[0]["kwargs"] == {
            "charge_point_vendor": "trio",
            "charge_point_model": "T1",
        }
        assert received[2]["kwargs"] == {"id_tag": "TAG1"}
        assert received[3]["kwargs"]["meter_start"] == 100
        assert received[4]["kwargs"]["transaction_id"] == 42
        assert received[4]["kwargs"]["meter_value"][0]["sampled_value"] == [
            {"value": "1500", "unit": "Wh"}
        ]
        assert received[5]["kwargs"]["meter_stop"] == 2500

    await run_their_central_system("1.6", test)


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_their_central_system_2x(version: str) -> None:
    messages = V2X[version]

    async def test(peer: Any, url: str) -> None:
        id_token = {"id_token": "TAG1", "type": "ISO14443"}
        evse = {"id": 1, "connector_id": 1}
        async with trio_ocpp.connect(
            url, CHARGE_POINTS_2X[version], identity=f"TRIO_CP_{version}"
        ) as cp:
            with trio.fail_after(5):
                boot = await cp.call(
                    messages.call.BootNotification(
                        charging_station={"model": "T1", "vendor_name": "trio"}, reason="PowerUp"
                    )
                )
                heartbeat = await cp.call(messages.call.Heartbeat())
                authorize = await cp.call(messages.call.Authorize(id_token=id_token))
                started = await cp.call(
                    messages.call.TransactionEvent(
                        event_type="Started",
                        timestamp=now(),
                        trigger_reason="Authorized",
                        seq_no=0,
                        transaction_info={"transaction_id": "TX-1"},
                        id_token=id_token,
                        evse=evse,
                    )
                )
                meter = await cp.call(
                    messages.call.MeterValues(
                        evse_id=1,
                        meter_value=[{"timestamp": now(), "sampled_value": [{"value": 1500.5}]}],
                    )
                )
                ended = await cp.call(
                    messages.call.TransactionEvent(
                        event_type="Ended",
                        timestamp=now(),
                        trigger_reason="StopAuthorized",
                        seq_no=1,
                        transaction_info={"transaction_id": "TX-1", "stopped_reason": "Local"},
                        evse=evse,
                    )
                )
            assert boot.status == "Accepted" and boot.interval == 300
            assert heartbeat.current_time
            assert authorize.id_token_info == {"status": "Accepted"}
            assert started.id_token_info == {"status": "Accepted"}
            assert meter == messages.call_result.MeterValues()
            assert ended == messages.call_result.TransactionEvent()

            if version == "2.0.1":  # 2.1: no answer at all (see above)
                with trio.fail_after(5), pytest.raises(exceptions.NotImplementedError):
                    await cp.call(messages.call.DataTransfer(vendor_id="X"))

            await peer.send_line("go")
            event = await peer.event("results")
            results = event["results"]
        # Their central system is done: we disconnect, and it reports what it got.
        assert results["RequestStartTransaction"]["status"] == "Accepted"
        assert results["RequestStartTransaction"]["transaction_id"] == "TX-9"
        assert results["GetVariables"]["get_variable_result"] == [
            {
                "attribute_status": "Accepted",
                "attribute_value": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
        assert results["Reset"]["status"] == "Accepted"
        # Their CALL of an action our charge point has no handler for: NotSupported.
        assert event["errors"]["ClearCache"]["code"] == "NotSupported"
        assert cp.received == [
            (
                "RequestStartTransaction",
                {
                    "id_token": {"id_token": "TAG2", "type": "ISO14443"},
                    "remote_start_id": 7,
                    "evse_id": 1,
                },
            ),
            (
                "GetVariables",
                {
                    "get_variable_data": [
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                },
            ),
            ("Reset", {"type": "OnIdle"}),
        ]

        received = (await peer.event("received"))["calls"]
        assert [c["action"] for c in received] == SESSION_2X_CALLS
        assert received[0]["kwargs"] == {
            "charging_station": {"model": "T1", "vendor_name": "trio"},
            "reason": "PowerUp",
        }
        assert received[2]["kwargs"] == {"id_token": id_token}
        assert received[3]["kwargs"]["transaction_info"] == {"transaction_id": "TX-1"}
        assert received[3]["kwargs"]["evse"] == evse
        assert received[4]["kwargs"]["meter_value"][0]["sampled_value"] == [{"value": 1500.5}]
        assert received[5]["kwargs"]["transaction_info"]["stopped_reason"] == "Local"

    await run_their_central_system(version, test)


async def test_their_central_system_closes() -> None:
    """Their central system closes the connection: our client closes TCP at once.

    RFC 6455 7.1.1: the server closes TCP first; websockets half-closes it and waits (up to its
    close_timeout) for the client's end. trio-websocket's client reader stops at that EOF without
    closing its stream, so ``connect()`` closes it when the reader stops; else the socket would
    stay open until garbage collection and their ``close()`` would take the whole timeout.
    """

    async def test(peer: Any, url: str) -> None:
        async with trio_ocpp.connect(url, ChargePoint16, identity="TRIO_CP_CLOSE") as cp:
            with trio.fail_after(5):
                await cp.call(
                    v16.call.BootNotification(charge_point_vendor="trio", charge_point_model="T1")
                )
            await peer.send_line("go")
            # Still in the block: the ChargePoint has stopped, the application goes on.
            closed = await peer.event("closed")
        assert closed["seconds"] < 1, f"their close() waited {closed['seconds']:.1f} s for us"

    await run_their_central_system("1.6", test, "close")

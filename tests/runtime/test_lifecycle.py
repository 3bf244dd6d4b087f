"""Connection lifecycle over real sockets: keep-alive, limits, pre-dispatch refusal, shutdown."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import trio
import trio_websocket
import wsproto
import wsproto.events
from helpers.memory_connection import MemoryConnection

from trio_ocpp import Server, exceptions, testing, v16
from trio_ocpp._runtime.link import Link
from trio_ocpp._runtime.watchdog import Watchdog
from trio_ocpp.messages import Call, Send
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"


class CentralSystem(v16.ChargePoint):
    """Accepts a charge point only after BootNotification; refuses everything before it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted = False
        self.release = trio.Event()

    async def pre_dispatch(self, message: Call | Send) -> None:
        # 1.6-J errata 3.8: SecurityError for any CALL before the charge point was accepted.
        if not self.accepted and message.action != "BootNotification":
            raise exceptions.SecurityError("BootNotification first")

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        self.accepted = True
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=TIME)

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str) -> v16.call_result.DataTransfer:
        if vendor_id == "slow":
            await self.release.wait()
        return v16.call_result.DataTransfer(status="Accepted", data=vendor_id)


BOOT = [2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]


def serving(
    websocket_options: Mapping[str, Any] | None = None, **options: Any
) -> AbstractAsyncContextManager[Server]:
    options.setdefault("charge_point_options", None)  # keep-alive as the server has it
    return testing.serving(CentralSystem, run=websocket_options, **options)


def connect(server: Server, path: str = "/CP_1") -> Any:
    return trio_websocket.open_websocket_url(
        f"ws://127.0.0.1:{server.port}{path}", subprotocols=["ocpp1.6"]
    )


async def ask(ws: trio_websocket.WebSocketConnection, frame: list[Any]) -> list[Any]:
    await ws.send_message(json.dumps(frame))
    with trio.fail_after(5):
        return json.loads(await ws.get_message())  # type: ignore[no-any-return]


async def connected(server: Server, identity: str = "CP_1") -> CentralSystem:
    with trio.fail_after(5):
        while identity not in server.charge_points:
            await trio.sleep(0.001)
    cp = server.charge_points[identity]
    assert isinstance(cp, CentralSystem)
    return cp


async def disconnected(server: Server, identity: str = "CP_1") -> None:
    with trio.fail_after(5):
        while identity in server.charge_points:
            await trio.sleep(0.001)


@asynccontextmanager
async def silent_peer(server: Server) -> AsyncIterator[trio.SocketStream]:
    """A client that completes the WebSocket handshake and then never reads again (half-open)."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    request = wsproto.events.Request(host="localhost", target="/CP_1", subprotocols=["ocpp1.6"])
    await stream.send_all(ws.send(request))
    with trio.fail_after(5):
        while True:
            ws.receive_data(await stream.receive_some())
            if any(isinstance(e, wsproto.events.AcceptConnection) for e in ws.events()):
                break
    async with stream:
        yield stream


async def test_pre_dispatch_refuses_calls_until_boot() -> None:
    async with serving() as server, connect(server) as ws:
        assert (await ask(ws, [2, "1", "Heartbeat", {}]))[:3] == [4, "1", "SecurityError"]
        assert (await ask(ws, BOOT))[0] == 3
        assert await ask(ws, [2, "2", "Heartbeat", {}]) == [3, "2", {"currentTime": TIME}]


async def test_keep_alive_measures_round_trips_of_a_live_peer() -> None:
    options = {"ping_interval": 0.05, "pong_timeout": 1}
    async with serving(charge_point_options=options) as server, connect(server):
        cp = await connected(server)
        with trio.fail_after(5):
            while cp.statistics().round_trip_time is None:
                await trio.sleep(0.01)
        rtt = cp.statistics().round_trip_time
        assert rtt is not None and 0 <= rtt < 1
        assert "CP_1" in server.charge_points


async def test_keep_alive_closes_a_peer_that_stopped_answering() -> None:
    options = {"ping_interval": 0.1, "pong_timeout": 0.2, "response_timeout": 30}
    async with serving(charge_point_options=options) as server, silent_peer(server):
        cp = await connected(server)
        cp.accepted = True
        with trio.fail_after(5), pytest.raises(exceptions.ConnectionClosedError):
            # The pending call fails when the dead peer is detected, long before its timeout.
            await cp.call(v16.call.DataTransfer(vendor_id="anyone there?"))
        await disconnected(server)


async def test_send_timeout_closes_a_peer_that_stopped_reading() -> None:
    options = {"send_timeout": 0.2, "ping_interval": 0, "response_timeout": 0.01}
    async with serving(charge_point_options=options) as server, silent_peer(server):
        cp = await connected(server)
        big = v16.call.DataTransfer(vendor_id="v", data="x" * 1_000_000)
        with trio.fail_after(10), pytest.raises(exceptions.ConnectionClosedError):
            while True:  # fills the socket buffers, then the send times out
                with pytest.raises(exceptions.CallTimeoutError):
                    await cp.call(big)
        await disconnected(server)


async def test_concurrent_handlers_are_bounded() -> None:
    options = {"max_concurrent_handlers": 1}
    async with serving(charge_point_options=options) as server, connect(server) as ws:
        await ask(ws, BOOT)
        await ws.send_message(json.dumps([2, "a", "DataTransfer", {"vendorId": "slow"}]))
        cp = await connected(server)
        with trio.fail_after(5):
            while cp.statistics().handlers_running == 0:
                await trio.sleep(0.001)
        assert (await ask(ws, [2, "b", "Heartbeat", {}]))[:3] == [4, "b", "ProtocolError"]
        cp.release.set()
        with trio.fail_after(5):
            assert json.loads(await ws.get_message()) == [
                3,
                "a",
                {"status": "Accepted", "data": "slow"},
            ]


async def test_max_connections_refuses_with_503() -> None:
    async with serving(max_connections=1) as server, connect(server, "/CP_1") as ws:
        await ask(ws, BOOT)  # a charge point that booted is never closed to make room
        with pytest.raises(trio_websocket.ConnectionRejected) as info:
            async with connect(server, "/CP_2"):
                pass
        assert info.value.status_code == 503


async def test_oversized_message_closes_with_1009_and_the_server_lives_on() -> None:
    async with serving(websocket_options={"max_message_size": 1000}) as server:
        async with connect(server) as ws:
            await ws.send_message(json.dumps([2, "1", "DataTransfer", {"vendorId": "x" * 2000}]))
            with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None and info.value.reason.code == 1009
        async with connect(server) as ws:
            assert (await ask(ws, BOOT))[0] == 3


async def test_graceful_shutdown_finishes_running_handlers_then_closes_with_1001() -> None:
    async with serving() as server, connect(server) as ws:
        await ask(ws, BOOT)
        await ws.send_message(json.dumps([2, "slow", "DataTransfer", {"vendorId": "slow"}]))
        cp = await connected(server)
        with trio.fail_after(5):
            while cp.statistics().handlers_running == 0:
                await trio.sleep(0.001)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.shutdown, 5)
            await trio.sleep(0.05)
            # Draining: new CALLs are refused, the running one is still served.
            assert (await ask(ws, [2, "new", "Heartbeat", {}]))[:3] == [4, "new", "ProtocolError"]
            cp.release.set()
            with trio.fail_after(5):
                assert json.loads(await ws.get_message())[:2] == [3, "slow"]
            with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None and info.value.reason.code == 1001


async def test_shutdown_deadline_cancels_what_is_left() -> None:
    async with serving() as server, connect(server) as ws:
        await ask(ws, BOOT)
        await ws.send_message(json.dumps([2, "slow", "DataTransfer", {"vendorId": "slow"}]))
        cp = await connected(server)
        with trio.fail_after(5):
            while cp.statistics().handlers_running == 0:
                await trio.sleep(0.001)
        with trio.fail_after(5):
            await server.shutdown(grace_period=0.1)
        await disconnected(server)


async def test_a_wake_up_between_the_nurserys_end_and_the_close_is_quiet() -> None:
    """A watchdog shared by connections may wake a link after its connection's nursery closed
    (its last task ended) and before start() marked the link closed: nothing to do then, and
    nothing to log (a fleet being stopped logged a traceback per connection)."""
    link = Link("CP", logging.getLogger("test"), MemoryConnection(), 10, 0, 10)
    async with trio.open_nursery() as nursery:
        pass
    link.start(nursery, Watchdog())
    link._sending = 1  # a frame overdue: the alarm would give up on the peer in a task
    link.alarm(link._alarm_at, math.inf)
    assert link.closed

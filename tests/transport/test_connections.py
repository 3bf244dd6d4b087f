"""A ChargePoint on connections made elsewhere: websockets' trio server, in process.

The interop tests run the ocpp package's charge point against such servers; these pin what only
the runtime sees: the adapter's keep-alive pings and pongs, its close, and its errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from websockets.trio.server import serve

import trio_ocpp
from trio_ocpp import exceptions, v16
from trio_ocpp._transport.adapters import WebsocketsTrioAdapter
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")


@asynccontextmanager
async def websockets_server(**options: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    charge_points: dict[str, Any] = {}

    async def on_connect(websocket: Any) -> None:
        cp = CentralSystem(websocket.request.path.strip("/"), websocket, **options)
        charge_points[cp.id] = cp
        await cp.start()

    async with trio.open_nursery() as nursery:
        serving = partial(serve, on_connect, 0, host="127.0.0.1", subprotocols=["ocpp1.6"])
        server = await nursery.start(serving)
        port = server.listeners[0].socket.getsockname()[1]
        yield f"ws://127.0.0.1:{port}", charge_points
        nursery.cancel_scope.cancel()


async def test_calls_pings_and_close_through_the_websockets_adapter() -> None:
    with trio.fail_after(10):
        async with (
            websockets_server(ping_interval=0.05, pong_timeout=2) as (url, cps),
            trio_ocpp.connect(url, v16.ChargePoint, identity="CP_1") as client,
        ):
            boot = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            assert (await client.call(boot)).status == "Accepted"
            cp = cps["CP_1"]
            assert isinstance(cp._connection, WebsocketsTrioAdapter)
            while cp.statistics().round_trip_time is None:  # our ping, their pong
                await trio.sleep(0.01)
            await cp.aclose(1000, "bye")
            while client.connection.is_open:
                await trio.sleep(0.01)
            assert client.connection.closed.code == 1000
            with trio.fail_after(1), pytest.raises(exceptions.ConnectionClosedError):
                await client.call(boot)

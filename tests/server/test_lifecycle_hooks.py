"""``ChargePoint.connected()`` and ``disconnected(code, reason)`` on a real server: once each per
connection, whatever ends it (the peer's close, a reset, the keep-alive, a newer connection, the
server's shutdown or its cancellation), in order across a replacement; failures stay contained."""

from __future__ import annotations

import logging
import socket
import struct
from typing import Any, ClassVar

import pytest
import trio
from helpers.peers import CLOSE, opened, upgraded

import trio_ocpp
from trio_ocpp import Server, v16
from trio_ocpp.routing import on
from trio_ocpp.testing import serving

BOOT = v16.call.BootNotification(charge_point_model="M", charge_point_vendor="V")


class CentralSystem(v16.ChargePoint):
    #: (event, identity, detail) in the order they happened, for every connection of the class.
    log: ClassVar[list[tuple[str, str, Any]]] = []
    server: ClassVar[Server | None] = None
    changed: ClassVar[trio.Event]

    @classmethod
    def reset(cls, server: Server | None = None) -> None:
        cls.log = []
        cls.server = server
        cls.changed = trio.Event()

    def _note(self, event: str, detail: Any) -> None:
        self.log.append((event, self.id, detail))
        self.changed.set()
        type(self).changed = trio.Event()

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=300, status="Accepted"
        )

    async def connected(self) -> None:
        registered = self.server is not None and self.server.get(self.id) is self
        self._note("connected", registered)

    async def disconnected(self, code: int, reason: str) -> None:
        await trio.sleep(0)  # it may await: it is shielded
        registered = self.server is not None and self.server.get(self.id) is self
        self._note("disconnected", (code, reason, registered))


async def wait_for(count: int, event: str = "disconnected") -> list[tuple[str, str, Any]]:
    with trio.fail_after(5):
        while sum(1 for e in CentralSystem.log if e[0] == event) < count:
            await CentralSystem.changed.wait()
    return CentralSystem.log


async def test_a_peer_that_closes_sees_connected_while_registered_then_disconnected() -> None:
    async with serving(CentralSystem) as server:
        CentralSystem.reset(server)
        url = f"ws://127.0.0.1:{server.port}"
        async with trio_ocpp.connect(url, v16.ChargePoint, identity="CP_1") as cp:
            await cp.call(BOOT)
            await wait_for(1, "connected")
        log = await wait_for(1)
    # Registered in connected(), gone from the registry by disconnected(); the client's close.
    assert log == [("connected", "CP_1", True), ("disconnected", "CP_1", (1000, "", False))]


async def test_a_reset_connection_is_disconnected_with_1006() -> None:
    async with serving(CentralSystem) as server:
        CentralSystem.reset(server)
        peer = await upgraded(server.port, "/CP_1")
        await wait_for(1, "connected")
        sock = peer.stream.socket  # type: ignore[attr-defined]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        log = await wait_for(1)
    assert log[-1] == ("disconnected", "CP_1", (1006, "", False))


async def test_a_peer_that_stops_answering_pings_is_disconnected_with_1011() -> None:
    options = {"ping_interval": 0.1, "pong_timeout": 0.2}
    async with serving(CentralSystem, charge_point_options=options) as server:
        CentralSystem.reset(server)
        async with opened(server):  # reads nothing, answers no ping
            log = await wait_for(1)
    code, reason, _ = log[-1][2]
    assert code == 1011 and "pong" in reason


async def test_a_replaced_connection_is_disconnected_before_the_new_one_is_connected() -> None:
    async with serving(CentralSystem) as server:
        CentralSystem.reset(server)
        first = await upgraded(server.port, "/CP_1")
        await wait_for(1, "connected")
        second = await upgraded(server.port, "/CP_1")
        log = await wait_for(2, "connected")
        await first.stream.aclose()
        await second.stream.aclose()
    assert log[:3] == [
        ("connected", "CP_1", True),
        ("disconnected", "CP_1", (1000, "replaced by a new connection", False)),
        ("connected", "CP_1", True),
    ]


@pytest.mark.parametrize("how", ["shutdown", "cancel"])
async def test_a_server_that_stops_disconnects_each_connection_with_1001(how: str) -> None:
    CentralSystem.reset()
    async with serving(CentralSystem) as server:
        CentralSystem.server = server
        peers = [await upgraded(server.port, f"/CP_{i}") for i in range(3)]
        await wait_for(3, "connected")
        if how == "shutdown":
            await server.shutdown(grace_period=1)
    # Cancelled (the block ended) or shut down: each connection is closed with 1001 and
    # disconnected() has run for it by the time the server is gone.
    ended = [e for e in CentralSystem.log if e[0] == "disconnected"]
    assert sorted(e[1] for e in ended) == ["CP_0", "CP_1", "CP_2"]
    assert {e[2][0] for e in ended} == {1001}
    for peer in peers:
        got = await peer.frame()
        assert got is not None and got[0] == CLOSE and struct.unpack("!H", got[1][:2]) == (1001,)


class Calling(CentralSystem):
    async def connected(self) -> None:
        # A call from connected(): frames are served meanwhile, so its answer comes in.
        result = await self.call(v16.call.GetConfiguration(key=["HeartbeatInterval"]))
        self._note("connected", result.configuration_key)


class Station(v16.ChargePoint):
    @on("GetConfiguration")
    def on_get_configuration(self, **_: Any) -> Any:
        key = [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        return v16.call_result.GetConfiguration(configuration_key=key)


async def test_connected_may_call_the_charge_point() -> None:
    async with serving(Calling) as server:
        CentralSystem.reset(server)
        url = f"ws://127.0.0.1:{server.port}"
        async with trio_ocpp.connect(url, Station, identity="CP_1"):
            log = await wait_for(1, "connected")
    assert log[0][2][0]["value"] == "300"


class Failing(CentralSystem):
    disconnected_timeout = 0.2

    async def connected(self) -> None:
        if self.id == "CP_1":
            raise RuntimeError("bug in connected")

    async def disconnected(self, code: int, reason: str) -> None:
        self._note("disconnected", (code, reason, False))
        await trio.sleep_forever()  # cut off at disconnected_timeout


async def test_failures_in_the_hooks_end_their_own_connection_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(Failing) as server:
        CentralSystem.reset(server)
        with caplog.at_level(logging.ERROR, "trio_ocpp"):
            peer = await upgraded(server.port, "/CP_1")
            code = await peer.close_code()
            await wait_for(1)
            with trio.fail_after(5):
                while server.get("CP_1") is not None:
                    await trio.sleep(0.01)
            # The server goes on: a charge point that boots is answered.
            url = f"ws://127.0.0.1:{server.port}"
            async with trio_ocpp.connect(url, v16.ChargePoint, identity="CP_2") as cp:
                assert (await cp.call(BOOT)).status == "Accepted"
    assert code == 1011
    assert CentralSystem.log[0] == ("disconnected", "CP_1", (1011, "connected() failed", False))
    messages = [r.getMessage() for r in caplog.records]
    assert any("connected() failed" in m for m in messages)
    assert any("disconnected() did not finish" in m for m in messages)


async def test_on_a_client_each_connection_has_its_own_life() -> None:
    class Charger(Station):
        lives: ClassVar[list[str]] = []

        async def connected(self) -> None:
            self.lives.append("connected")

        async def disconnected(self, code: int, reason: str) -> None:
            self.lives.append(f"disconnected {code}")

    async with serving(CentralSystem) as server:
        CentralSystem.reset(server)
        client = trio_ocpp.Client(
            f"ws://127.0.0.1:{server.port}",
            Charger,
            identity="CP_1",
            retry_backoff_wait_minimum=0.01,
            retry_backoff_random_range=0.01,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            first = await client.connected()
            with trio.fail_after(5):
                while Charger.lives != ["connected"]:
                    await trio.sleep(0.01)
            server.get("CP_1").close_soon(1012, "restart")  # type: ignore[union-attr]
            second = await client.connected()
            while second is first:
                await trio.sleep(0.01)
                second = await client.connected()
            with trio.fail_after(5):
                while len(Charger.lives) < 3:
                    await trio.sleep(0.01)
            await client.aclose()
    assert Charger.lives == ["connected", "disconnected 1012", "connected", "disconnected 1000"]


class Booting(v16.ChargePoint):
    """Answers BootNotification; the hooks are ChargePoint's no-ops (start() runs none)."""

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=300, status="Accepted"
        )


class Hooks:
    """Hooks from a class that is no ChargePoint, as an application's mixin."""

    events: ClassVar[list[tuple[str, Any]]] = []

    async def connected(self) -> None:
        self.events.append(("connected", None))

    async def disconnected(self, code: int, reason: str) -> None:
        self.events.append(("disconnected", code))


class HookedLater(Hooks, Booting):
    pass


@pytest.mark.parametrize(("cls", "hooked"), [(Booting, False), (HookedLater, True)])
async def test_hooks_a_subclass_inherits_from_anywhere_run_and_the_defaults_cost_nothing(
    cls: type[v16.ChargePoint], hooked: bool
) -> None:
    Hooks.events.clear()
    expected = [("connected", None), ("disconnected", 1000)] * 2 if hooked else []
    async with serving(cls) as server:
        url = f"ws://127.0.0.1:{server.port}"
        for identity in ("CP_1", "CP_2"):
            async with trio_ocpp.connect(url, v16.ChargePoint, identity=identity) as cp:
                assert (await cp.call(BOOT)).status == "Accepted"
        with trio.fail_after(5):
            while server.charge_points or len(Hooks.events) < len(expected):
                await trio.sleep(0.01)
    assert Hooks.events == expected

"""The reconnecting Client over real sockets, on trio's MockClock: the OCPP back-off schedule
(CONFORMANCE 30), reconnecting after 401/404 and lost connections, on_connect per connection,
keep-alive from the client side, and aclose with and without a grace period."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing
import wsproto
import wsproto.events

import trio_ocpp
from trio_ocpp import ConnectionRequest, RejectConnection, Server, exceptions, testing, v16
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
#: Virtual seconds any test may take: the clock jumps, so this is not real time.
LIMIT = 1000


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # Jumps once every task has been blocked for 10 ms of real time. All sockets here are in
    # this process, so by then nobody waits for the network, only for the clock.
    return trio.testing.MockClock(autojump_threshold=0.01)


class CentralSystem(v16.ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handling = trio.Event()
        self.handling_since = 0.0

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str) -> v16.call_result.DataTransfer:
        self.handling_since = trio.current_time()
        self.handling.set()
        if vendor_id == "hang":
            await trio.sleep_forever()
        await trio.sleep(5)  # "slow"
        return v16.call_result.DataTransfer(status="Accepted", data=vendor_id)


class ChargePoint(v16.ChargePoint):
    pass


class Gate:
    """The server's decision per connection attempt, and when each attempt came."""

    def __init__(self, *plan: int | None, then: int | None = 404) -> None:
        self.plan = list(plan)  # an HTTP status to refuse with, or None to accept
        self.then = then
        self.attempts: list[float] = []
        self._changed = trio.Event()

    def record(self) -> int | None:
        self.attempts.append(trio.current_time())
        self._changed.set()
        self._changed = trio.Event()
        return self.plan.pop(0) if self.plan else self.then

    async def on_connect(self, request: ConnectionRequest) -> None:
        status = self.record()
        if status is not None:
            raise RejectConnection(status)

    async def until(self, attempts: int) -> None:
        while len(self.attempts) < attempts:
            await self._changed.wait()

    def waits(self) -> list[float]:
        return [b - a for a, b in zip(self.attempts, self.attempts[1:], strict=False)]


def serving(gate: Gate, **options: Any) -> AbstractAsyncContextManager[Server]:
    options.setdefault("on_connect", gate.on_connect)
    # No collector: its 0.25 s tick would wake the mock clock thousands of times a test.
    options.setdefault("collector", None)
    return testing.serving(CentralSystem, **options)


@asynccontextmanager
async def running(url: str, **options: Any) -> AsyncIterator[trio_ocpp.Client[ChargePoint]]:
    options = {
        "identity": "CP_1",
        "retry_backoff_wait_minimum": 10,
        "retry_backoff_random_range": 0,
        "retry_backoff_repeat_times": 2,
        "ping_interval": 0,
        **options,
    }
    client = trio_ocpp.Client(url, ChargePoint, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        yield client
        await client.aclose()


def url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/ocpp"


async def connected(server: Server, previous: CentralSystem | None = None) -> CentralSystem:
    """The server's side of CP_1's connection, once there is one other than ``previous``."""
    while server.charge_points.get("CP_1") in (None, previous):
        await trio.sleep(1)  # virtual: every wait of the client is whole seconds
    cp = server.charge_points["CP_1"]
    assert isinstance(cp, CentralSystem)
    return cp


# -- the schedule --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 401])
async def test_waits_double_up_to_the_repeat_count_then_stay(
    status: int, clock: trio.testing.MockClock
) -> None:
    gate = Gate(then=status)

    async def check(identity: str, password: bytes) -> bool:
        return gate.record() is None  # 401 unless accepted

    auth = {"basic_auth": check} if status == 401 else {}
    with trio.fail_after(LIMIT):
        async with serving(gate, **auth) as server, running(url(server), basic_auth="pw"):
            await gate.until(5)
    assert gate.waits() == pytest.approx([10, 20, 40, 40])


async def test_each_wait_adds_a_fresh_random_part(clock: trio.testing.MockClock) -> None:
    gate = Gate()
    with trio.fail_after(LIMIT):
        async with (
            serving(gate) as server,
            running(url(server), retry_backoff_random_range=5, rng=random.Random(7)),
        ):
            await gate.until(5)
    draw = random.Random(7)
    expected = [minimum + draw.uniform(0, 5) for minimum in (10, 20, 40, 40)]
    assert gate.waits() == pytest.approx(expected)
    assert len(set(w - m for w, m in zip(gate.waits(), (10, 20, 40, 40), strict=True))) == 4


def test_retry_backoff_is_the_same_schedule() -> None:
    waits = trio_ocpp.retry_backoff(10, 0, 2, random.Random())
    assert [next(waits) for _ in range(6)] == [10, 20, 40, 40, 40, 40]


async def test_a_successful_connection_starts_the_schedule_over(
    clock: trio.testing.MockClock,
) -> None:
    gate = Gate(404, 404, None)  # the third attempt connects
    with trio.fail_after(LIMIT):
        async with serving(gate) as server, running(url(server)):
            cp = await connected(server)
            lost = trio.current_time()
            await cp.aclose()
            await gate.until(5)
    first, second, accepted, again, then = gate.attempts
    assert [second - first, accepted - second] == pytest.approx([10, 20])
    assert [again - lost, then - again] == pytest.approx([10, 20])


async def test_a_refused_tcp_connection_is_retried(
    caplog: pytest.LogCaptureFixture, clock: trio.testing.MockClock
) -> None:
    with trio.socket.socket() as sock:  # a port with no listener
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with trio.fail_after(LIMIT):
        async with running(f"ws://127.0.0.1:{port}/ocpp", retry_backoff_wait_minimum=3) as client:
            await trio.sleep(3 + 6 + 12 + 1)  # attempts at 0, 3, 9 and 21 s
            assert client.charge_point is None
    assert caplog.text.count(f"CP_1: cannot connect to ws://127.0.0.1:{port}/ocpp/CP_1: ") == 4
    # The one address's error, not a group's summary ("all attempts ... (1 sub-exception)").
    assert f"Error connecting to ('127.0.0.1', {port}): Connection refused" in caplog.text


# -- connections ---------------------------------------------------------------------------------


async def test_on_connect_runs_on_every_connection_and_ends_with_it(
    clock: trio.testing.MockClock,
) -> None:
    charge_points: list[ChargePoint] = []
    closed: list[ChargePoint] = []

    async def on_connect(cp: ChargePoint) -> None:
        charge_points.append(cp)
        try:
            await cp.call(v16.call.DataTransfer(vendor_id="hang"))
        except exceptions.ConnectionClosedError:
            closed.append(cp)
            raise  # the client takes this as the end of the connection

    gate = Gate(then=None)
    with trio.fail_after(LIMIT):
        async with serving(gate) as server, running(url(server), on_connect=on_connect) as client:
            cp = None
            for _ in range(2):
                cp = await connected(server, cp)
                await cp.handling.wait()
                await cp.aclose()
            await (await connected(server, cp)).handling.wait()
            assert client.charge_point is charge_points[-1]
    assert len(charge_points) == 3 and len(set(map(id, charge_points))) == 3
    assert closed[:2] == charge_points[:2]
    assert len(gate.attempts) == 3


async def test_connected_waits_for_each_connection(clock: trio.testing.MockClock) -> None:
    gate = Gate(then=None)
    with trio.fail_after(LIMIT):
        async with serving(gate) as server, running(url(server)) as client:
            first = await client.connected()  # run() has started; the connection follows
            assert client.charge_point is first
            await (await connected(server)).aclose()
            while client.charge_point is first:  # the client sees the close, then waits
                await trio.sleep(1)
            second = await client.connected()
            assert second is not first and client.charge_point is second
    assert len(gate.attempts) == 2


async def test_an_error_in_on_connect_ends_run(clock: trio.testing.MockClock) -> None:
    async def on_connect(cp: ChargePoint) -> None:
        raise ValueError("bug")

    gate = Gate(then=None)
    with (
        trio.fail_after(LIMIT),
        pytest.RaisesGroup(ValueError, flatten_subgroups=True),
    ):
        async with serving(gate) as server, running(url(server), on_connect=on_connect):
            await trio.sleep_forever()


async def test_keep_alive_finds_a_silent_server_and_the_client_reconnects(
    clock: trio.testing.MockClock,
) -> None:
    """A server that completes the handshake and then never reads again (half-open)."""
    accepted: list[float] = []
    failed: list[float] = []

    async def silent_server(stream: trio.SocketStream) -> None:
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        while True:
            ws.receive_data(await stream.receive_some())
            for event in ws.events():
                if isinstance(event, wsproto.events.Request):
                    await stream.send_all(ws.send(wsproto.events.AcceptConnection("ocpp1.6")))
                    accepted.append(trio.current_time())
                    await trio.sleep_forever()

    async def on_connect(cp: ChargePoint) -> None:
        try:
            await cp.call(v16.call.Heartbeat())  # never answered
        except exceptions.ConnectionClosedError:
            failed.append(trio.current_time())

    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            serve = partial(trio.serve_tcp, silent_server, 0, host="127.0.0.1")
            listeners = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
            options = {"ping_interval": 1, "pong_timeout": 2, "on_connect": on_connect}
            async with running(f"ws://127.0.0.1:{port}/ocpp", **options):
                while len(accepted) < 2:
                    await trio.sleep(1)
            nursery.cancel_scope.cancel()
    # Ping at 1 s, no pong by 3 s: the call fails then (not at its 30 s timeout); the close
    # handshake that the server does not answer takes 1 s, and 10 s later the client is back.
    assert failed[0] - accepted[0] == pytest.approx(3)
    assert accepted[1] - accepted[0] == pytest.approx(3 + 1 + 10)


# -- stopping ------------------------------------------------------------------------------------


async def test_aclose_stops_reconnecting(clock: trio.testing.MockClock) -> None:
    gate = Gate()
    with trio.fail_after(LIMIT):
        async with serving(gate) as server:
            async with running(url(server)) as client:
                await gate.until(2)
                await client.aclose()
                await client.aclose()  # idempotent
            await trio.sleep(500)
    assert len(gate.attempts) == 2


async def test_aclose_from_on_connect_ends_run_at_once(clock: trio.testing.MockClock) -> None:
    # A charge point that has done its work stops itself: run() returns, without the back-off.
    async def on_connect(cp: ChargePoint) -> None:
        await client.aclose()

    gate = Gate(then=None)
    with trio.fail_after(LIMIT):
        async with serving(gate) as server:
            client = trio_ocpp.Client(
                url(server), ChargePoint, identity="CP_1", on_connect=on_connect
            )
            await client.run()
    assert trio.current_time() < 1
    assert len(gate.attempts) == 1


async def test_aclose_closes_the_connection(clock: trio.testing.MockClock) -> None:
    gate = Gate(then=None)
    with trio.fail_after(LIMIT):
        async with serving(gate) as server, running(url(server)) as client:
            cp = await connected(server)
            await client.aclose()
            while server.charge_points:
                await trio.sleep(1)
            assert client.charge_point is None
    assert cp.statistics().frames_received == 0
    assert len(gate.attempts) == 1


@pytest.mark.parametrize(("grace_period", "finished"), [(30, True), (1, False)])
async def test_aclose_lets_a_call_in_flight_finish_within_the_grace_period(
    grace_period: float, finished: bool, clock: trio.testing.MockClock
) -> None:
    results: list[Any] = []

    async def on_connect(cp: ChargePoint) -> None:
        try:
            results.append(await cp.call(v16.call.DataTransfer(vendor_id="slow")))  # 5 s
        except exceptions.ConnectionClosedError as exc:
            results.append(exc)
        await trio.sleep_forever()

    gate = Gate(then=None)
    with trio.fail_after(LIMIT):
        async with serving(gate) as server, running(url(server), on_connect=on_connect) as client:
            cp = await connected(server)
            await cp.handling.wait()
            await client.aclose(grace_period=grace_period)
            took = trio.current_time() - cp.handling_since
    if finished:
        assert results[0].data == "slow"
        assert took == pytest.approx(5, abs=0.2)
    else:
        assert isinstance(results[0], exceptions.ConnectionClosedError)
        assert took == pytest.approx(1, abs=1)  # the grace period counts from aclose()


def test_an_invalid_identity_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="identity"):
        trio_ocpp.Client("ws://127.0.0.1/ocpp", v16.ChargePoint, identity="")


async def test_each_failed_attempt_is_told_to_on_connect_error() -> None:
    failures: list[trio_ocpp.HandshakeError] = []
    async with testing.serving(v16.ChargePoint, basic_auth={"CP_1": "right-password-16"}) as server:
        client = trio_ocpp.Client(
            f"ws://127.0.0.1:{server.port}",
            v16.ChargePoint,
            identity="CP_1",
            basic_auth="wrong-password-16",
            on_connect_error=failures.append,
            retry_backoff_wait_minimum=0.01,
            retry_backoff_random_range=0.01,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            with trio.fail_after(5):
                while len(failures) < 2:
                    await trio.sleep(0.01)
            await client.aclose()
    assert all(isinstance(f, trio_ocpp.ConnectionRejected) for f in failures)
    assert {f.status_code for f in failures} == {401}  # type: ignore[attr-defined]

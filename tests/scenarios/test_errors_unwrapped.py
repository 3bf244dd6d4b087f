"""Errors arrive as themselves (issue 18, item 3): a lone exception of the application's code out
of ``connect``, ``cluster.connect``, ``Client.run``, ``Server.run``/``serve`` and
``ChargePoint.start`` is that exception, not an ExceptionGroup around it, with its traceback and
no confusing chain; two failures at once stay a group, and cancellation works as before.

Each entry point on real sockets (and a real redis-server for the cluster)."""

from __future__ import annotations

import functools
import sys
from types import TracebackType
from typing import Any, NoReturn

import pytest
import trio
import trio_websocket

import trio_ocpp
from trio_ocpp import exceptions, testing, v16
from trio_ocpp._core.ungroup import ungroup
from trio_ocpp.routing import on


class MyBugError(Exception):
    pass


def raised_here(tb: TracebackType | None, function: str) -> bool:
    """Whether the innermost frame of ``tb`` is in ``function``: the traceback starts where the
    application raised, not where a nursery re-raised."""
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name == function


def bug() -> NoReturn:
    raise MyBugError("my bug")


def assert_plain(error: BaseException) -> None:
    """Nothing chained that the application did not chain: no group as cause or context."""
    assert error.__cause__ is None and error.__context__ is None, (
        error.__cause__,
        error.__context__,
    )
    assert raised_here(error.__traceback__, "bug")


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=10, status="Accepted"
        )


serving = functools.partial(testing.serving, CentralSystem)


def url(server: trio_ocpp.Server) -> str:
    return f"ws://127.0.0.1:{server.port}/CP_1"


def boot() -> v16.call.BootNotification:
    return v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")


async def test_connect() -> None:
    async with serving() as server:
        with trio.fail_after(5), pytest.raises(MyBugError) as caught:
            async with trio_ocpp.connect(url(server), v16.ChargePoint) as cp:
                await cp.call(boot())
                bug()
        assert_plain(caught.value)


async def test_connect_in_an_except_block_keeps_the_applications_context() -> None:
    async with serving() as server:
        with trio.fail_after(5), pytest.raises(MyBugError) as caught:
            async with trio_ocpp.connect(url(server), v16.ChargePoint):
                try:
                    {}["missing"]
                except KeyError:
                    bug()
        assert isinstance(caught.value.__context__, KeyError)


async def test_client_run() -> None:
    async def on_connect(cp: v16.ChargePoint) -> None:
        await cp.call(boot())
        bug()

    async with serving() as server:
        client = trio_ocpp.Client(url(server), v16.ChargePoint, on_connect=on_connect)
        with trio.fail_after(5), pytest.raises(MyBugError) as caught:
            await client.run()
        assert_plain(caught.value)


class ExitingCentralSystem(CentralSystem):
    """A central system whose handler ends the process (a user's ``sys.exit``): not an error a
    connection contains, so it stops the server."""

    @on("Heartbeat")
    def on_heartbeat(self) -> NoReturn:
        sys.exit(3)


async def heartbeat_until_closed(port: int) -> None:
    async with trio_ocpp.connect(f"ws://127.0.0.1:{port}/CP_1", v16.ChargePoint) as cp:
        with pytest.raises(exceptions.ConnectionClosedError):
            await cp.call(v16.call.Heartbeat())


@pytest.mark.parametrize("entry", ["Server.run", "serve"])
async def test_server_run_and_serve(entry: str) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    run = (
        trio_ocpp.Server(ExitingCentralSystem).run
        if entry == "Server.run"
        else functools.partial(trio_ocpp.serve, ExitingCentralSystem)
    )
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat_until_closed, port)
            with pytest.raises(SystemExit) as caught:
                await run(listeners=listeners)
    assert caught.value.code == 3
    assert caught.value.__context__ is None
    assert raised_here(caught.value.__traceback__, "on_heartbeat")


class ExitingChargePoint(v16.ChargePoint):
    @on("Reset")
    def on_reset(self, type: str) -> NoReturn:
        sys.exit(4)


async def test_charge_point_start() -> None:
    # A ChargePoint the application runs itself, on a connection of another library.
    async def reset_when_connected(server: trio_ocpp.Server) -> None:
        while (cp := server.get("CP_1")) is None:
            await trio.sleep(0.01)
        with pytest.raises(exceptions.ConnectionClosedError):
            await cp.call(v16.call.Reset(type="Hard"))

    with trio.fail_after(5):
        async with serving() as server, trio.open_nursery() as nursery:
            nursery.start_soon(reset_when_connected, server)
            async with trio_websocket.open_websocket_url(
                url(server), subprotocols=["ocpp1.6"]
            ) as ws:
                with pytest.raises(SystemExit) as caught:
                    await ExitingChargePoint("CP_1", ws).start()
    assert caught.value.code == 4
    assert caught.value.__context__ is None


async def test_cluster_connect(redis: Any) -> None:
    pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')
    from trio_ocpp import cluster

    with trio.fail_after(10), pytest.raises(MyBugError) as caught:
        async with cluster.connect(redis.url):
            bug()
    assert_plain(caught.value)


# -- what stays as it was ----------------------------------------------------------------------


async def test_two_failures_at_once_stay_a_group() -> None:
    async def fail(message: str) -> None:
        raise MyBugError(message)  # at once: neither is cancelled by the other

    with pytest.raises(ExceptionGroup) as caught:
        async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
            nursery.start_soon(fail, "one")
            nursery.start_soon(fail, "two")
    assert sorted(str(e) for e in caught.value.exceptions) == ["one", "two"]


async def test_cancellation_reaches_its_scope() -> None:
    # A timeout around connect: the Cancelled of the body and of the charge point's tasks,
    # alone or several, end at the scope that was cancelled.
    async with serving() as server:
        with trio.move_on_after(0.2) as timeout:
            async with trio_ocpp.connect(url(server), v16.ChargePoint):
                await trio.sleep_forever()
        assert timeout.cancelled_caught
        with trio.move_on_after(0.2) as timeout:
            async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                nursery.start_soon(trio.sleep_forever)
        assert timeout.cancelled_caught


async def test_an_error_while_being_cancelled_comes_out_alone() -> None:
    # A task's cleanup fails during a timeout: its error, not a group with the Cancelled of the
    # nursery's body, as it would replace a Cancelled in a finally block. The timeout's scope
    # was cancelled and stays so.
    async def fails_in_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            bug()

    with pytest.raises(MyBugError) as caught, trio.move_on_after(0.05) as timeout:
        async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
            nursery.start_soon(fails_in_cleanup)
            await trio.sleep_forever()
    assert timeout.cancel_called and not timeout.cancelled_caught
    assert raised_here(caught.value.__traceback__, "bug")


async def test_client_on_connect_failing_while_the_client_closes() -> None:
    # The error travels with the Cancelled of the closing, and a cancelled scope is on its way.
    async def on_connect(cp: v16.ChargePoint) -> None:
        try:
            await trio.sleep_forever()
        finally:
            bug()

    async with serving() as server:
        client = trio_ocpp.Client(url(server), v16.ChargePoint, on_connect=on_connect)
        # One group, of the test's own nursery: run() raised the error itself.
        with trio.fail_after(5), pytest.RaisesGroup(MyBugError):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.run)
                await client.connected()
                await client.aclose()

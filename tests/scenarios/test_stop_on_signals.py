"""Graceful stop on SIGINT and SIGTERM (issue 18, item 7): ``trio_ocpp.stop_on_signals`` in
applications embedding a server or a client, and in ``python -m trio_ocpp``, as real processes
signalled as a service manager would, with real charge points connected."""

from __future__ import annotations

import functools
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers.interop.peers import Process, open_process
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp import exceptions, testing, v16
from trio_ocpp.routing import on

PEER = str(Path(__file__).resolve().parents[1] / "helpers" / "stopping_peer.py")


def slow(seconds: float) -> v16.call.DataTransfer:
    """A CALL that the peers' handler answers after ``seconds``."""
    return v16.call.DataTransfer(vendor_id="test", data=str(seconds))


async def answered(cp: v16.ChargePoint, answers: list[Any]) -> None:
    answers.append(await cp.call(slow(0.5)))


async def never_answered(cp: v16.ChargePoint) -> None:
    with pytest.raises(exceptions.ConnectionClosedError):
        await cp.call(slow(60))


async def closed_code(cp: v16.ChargePoint) -> int:
    """The close code of ``cp``'s connection, once it is closed."""
    with trio.fail_after(5):
        while cp.connection.closed is None:
            await trio.sleep(0.01)
    code: int = cp.connection.closed.code
    return code


async def signal_twice(process: Process, signum: int) -> None:
    """Signal, and again once the graceful stop has begun."""
    process.process.send_signal(signum)
    first = f"{signal.Signals(signum).name} received, stopping"
    await process.wait_for(lambda: first in process.stderr.text, first, 5, process.stderr)
    process.process.send_signal(signum)


async def stopped(process: Process) -> None:
    assert await process.wait(timeout=5) == 0, process.report()
    assert "Traceback" not in process.stderr.text, process.report()


# -- embedded in an application ---------------------------------------------------------------


@asynccontextmanager
async def server_connected(grace_period: float) -> AsyncIterator[tuple[Process, v16.ChargePoint]]:
    """The peer script's server, and a charge point connected to it."""
    async with open_process(["python", PEER, "server", str(grace_period)]) as server:
        port = (await server.event("listening"))["port"]
        async with trio_ocpp.connect(f"ws://127.0.0.1:{port}/CP_1", v16.ChargePoint) as cp:
            yield server, cp


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=10, status="Accepted"
        )


@asynccontextmanager
async def client_connected(grace_period: float) -> AsyncIterator[tuple[Process, v16.ChargePoint]]:
    """The peer script's client, booted, and its connection on the server's side."""
    async with testing.serving(CentralSystem) as server:
        url = f"ws://127.0.0.1:{server.port}"
        async with open_process(["python", PEER, "client", url, str(grace_period)]) as client:
            await client.event("booted")
            cp = server.get("CP_STOP")
            assert cp is not None
            yield client, cp


#: A server, and a charge point connected to it; a client, and its connection on the server.
CONNECTED = {"server": server_connected, "client": client_connected}


@pytest.mark.parametrize("side", CONNECTED)
async def test_a_running_handler_finishes_then_the_connection_closes_with_1001(side: str) -> None:
    answers: list[Any] = []
    with trio.fail_after(20):
        async with CONNECTED[side](10) as (process, cp):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(answered, cp, answers)
                await process.event("handling")
                process.process.send_signal(signal.SIGTERM)
            # The grace period let the handler answer; then the connection was closed.
            assert await closed_code(cp) == 1001
            await stopped(process)
    assert [a.status for a in answers] == ["Accepted"]
    assert "SIGTERM received, stopping (grace period 10 s)" in process.stderr.text


@pytest.mark.parametrize(
    ("side", "signum"),
    [("server", signal.SIGINT), ("client", signal.SIGTERM)],
    ids=["server-SIGINT", "client-SIGTERM"],
)
async def test_a_second_signal_stops_at_once(side: str, signum: int) -> None:
    with trio.fail_after(20):
        async with CONNECTED[side](60) as (process, cp):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(never_answered, cp)
                await process.event("handling")
                await signal_twice(process, signum)
            assert await closed_code(cp) == 1001
            await stopped(process)
    assert f"{signal.Signals(signum).name} received again, stopping at once" in process.stderr.text


# -- python -m trio_ocpp ---------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_the_example_central_system_stops_so_too(signum: int) -> None:
    port = free_port()
    command = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    with trio.fail_after(20):
        async with open_process([*command, "--grace-period", "3"]) as server:
            await wait_listening(port)
            connect = functools.partial(trio_ocpp.connect, f"ws://127.0.0.1:{port}/CP_1")
            async with connect(v16.ChargePoint) as cp:
                server.process.send_signal(signum)
                assert await closed_code(cp) == 1001
            await stopped(server)
    name = signal.Signals(signum).name
    assert f"{name} received, stopping (grace period 3 s)" in server.stderr.text

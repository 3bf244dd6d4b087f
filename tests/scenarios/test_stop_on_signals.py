"""Graceful stop on SIGINT and SIGTERM (issue 18, item 7): ``trio_ocpp.stop_on_signals`` in
applications embedding a server or a client, and in ``python -m trio_ocpp``, as real processes
signalled as a service manager would, with real charge points connected."""

from __future__ import annotations

import functools
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers import servers
from helpers.interop.peers import Process, open_process
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp import exceptions, v16
from trio_ocpp.routing import on

PEER = str(Path(__file__).resolve().parents[1] / "helpers" / "stopping_peer.py")


def slow(seconds: float) -> v16.call.DataTransfer:
    """A CALL that the peers' handler answers after ``seconds``."""
    return v16.call.DataTransfer(vendor_id="test", data=str(seconds))


async def closed_code(cp: v16.ChargePoint) -> int:
    """The close code of ``cp``'s connection, once it is closed."""
    with trio.fail_after(5):
        while cp.connection.closed is None:
            await trio.sleep(0.01)
    code: int = cp.connection.closed.code
    return code


async def stopped(process: Process, *, status: int = 0) -> None:
    assert await process.wait(timeout=5) == status, process.report()
    assert "Traceback" not in process.stderr.text, process.report()


# -- an embedded server ----------------------------------------------------------------------------


async def test_a_server_lets_a_running_handler_finish_then_closes_with_1001() -> None:
    with trio.fail_after(20):
        async with open_process(["python", PEER, "server", "10"]) as server:
            port = (await server.event("listening"))["port"]
            url = f"ws://127.0.0.1:{port}/CP_1"
            answers: list[Any] = []
            async with (
                trio_ocpp.connect(url, v16.ChargePoint) as cp,
                trio.open_nursery() as nursery,
            ):

                async def ask() -> None:
                    answers.append(await cp.call(slow(0.5)))

                nursery.start_soon(ask)
                await server.event("handling")
                server.process.send_signal(signal.SIGTERM)
                # The grace period lets the handler answer; then the connection is closed.
                assert await closed_code(cp) == 1001
            assert [a.status for a in answers] == ["Accepted"]
            await stopped(server)
    assert "SIGTERM received, stopping (grace period 10 s)" in server.stderr.text


async def test_a_second_signal_ends_the_grace_period_at_once() -> None:
    with trio.fail_after(20):
        async with open_process(["python", PEER, "server", "60"]) as server:
            port = (await server.event("listening"))["port"]
            url = f"ws://127.0.0.1:{port}/CP_1"
            async with (
                trio_ocpp.connect(url, v16.ChargePoint) as cp,
                trio.open_nursery() as nursery,
            ):

                async def ask() -> None:
                    with pytest.raises(exceptions.ConnectionClosedError):
                        await cp.call(slow(60))  # cut short: never answered

                nursery.start_soon(ask)
                await server.event("handling")
                server.process.send_signal(signal.SIGINT)
                first = "SIGINT received, stopping"
                await server.wait_for(lambda: first in server.stderr.text, first, 5, server.stderr)
                server.process.send_signal(signal.SIGINT)
                assert await closed_code(cp) == 1001
            await stopped(server)
    assert "SIGINT received again, stopping at once" in server.stderr.text


# -- an embedded client ----------------------------------------------------------------------------


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=10, status="Accepted"
        )


async def test_a_client_answers_a_running_call_then_closes_with_1001() -> None:
    async with servers.serving(CentralSystem) as server:
        url = f"ws://127.0.0.1:{server.port}"
        with trio.fail_after(20):
            async with open_process(["python", PEER, "client", url, "10"]) as client:
                await client.event("booted")
                cp = server.get("CP_STOP")
                assert cp is not None
                answers: list[Any] = []
                async with trio.open_nursery() as nursery:

                    async def ask() -> None:
                        answers.append(await cp.call(slow(0.5)))

                    nursery.start_soon(ask)
                    await client.event("handling")
                    client.process.send_signal(signal.SIGTERM)
                assert [a.status for a in answers] == ["Accepted"]
                assert await closed_code(cp) == 1001
                await stopped(client)
                assert json.loads(client.stdout.text.splitlines()[-1]) == {"event": "stopped"}
    assert "SIGTERM received, stopping" in client.stderr.text


async def test_a_second_signal_stops_a_client_at_once() -> None:
    async with servers.serving(CentralSystem) as server:
        url = f"ws://127.0.0.1:{server.port}"
        with trio.fail_after(20):
            async with open_process(["python", PEER, "client", url, "60"]) as client:
                await client.event("booted")
                cp = server.get("CP_STOP")
                assert cp is not None
                async with trio.open_nursery() as nursery:

                    async def ask() -> None:
                        with pytest.raises(exceptions.ConnectionClosedError):
                            await cp.call(slow(60))  # cut short: never answered

                    nursery.start_soon(ask)
                    await client.event("handling")
                    client.process.send_signal(signal.SIGTERM)
                    first = "SIGTERM received, stopping"
                    await client.wait_for(
                        lambda: first in client.stderr.text, first, 5, client.stderr
                    )
                    client.process.send_signal(signal.SIGTERM)
                assert await closed_code(cp) == 1001
                await stopped(client)
    assert "SIGTERM received again, stopping at once" in client.stderr.text


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

"""Clean stops: SIGINT (Ctrl-C) and SIGTERM end the example central system and the example charge
point at once, with exit status 0 and no traceback, as real processes."""

from __future__ import annotations

import signal

import pytest
import trio
from helpers.interop.peers import Process, open_process
from helpers.processes import free_port, wait_listening

STOPS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


async def stop(process: Process, signum: int) -> None:
    process.process.send_signal(signum)
    assert await process.wait(timeout=3) == 0, process.report()
    assert "Traceback" not in process.stderr.text, process.report()
    assert f"{signal.Signals(signum).name} received, stopping" in process.stderr.text


@pytest.mark.parametrize("signum", STOPS)
async def test_signals_stop_the_example_central_system_and_charge_point(signum: int) -> None:
    port = free_port()
    server_args = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    client_args = ["python", "-m", "trio_ocpp.examples.charge_point", "--version", "2.0.1"]
    client_args += ["--url", f"ws://127.0.0.1:{port}", "--id", "CP_STOP"]
    with trio.fail_after(20):
        async with open_process(server_args) as server:
            await wait_listening(port)
            async with open_process(client_args) as client:
                await client.wait_for(
                    lambda: "accepted" in client.stderr.text, "boot", 8, client.stderr
                )
                # The charge point is connected and idle until its next heartbeat.
                await stop(client, signum)
            await server.wait_for(
                lambda: "CP_STOP: connection closed" in server.stderr.text,
                "close",
                5,
                server.stderr,
            )
            await stop(server, signum)


async def test_version_option() -> None:
    import trio_ocpp

    async with open_process(["python", "-m", "trio_ocpp", "--version"]) as process:
        assert await process.wait() == 0, process.report()
    assert process.stdout.text.strip() == f"trio-ocpp {trio_ocpp.__version__}"

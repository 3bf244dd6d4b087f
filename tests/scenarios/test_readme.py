"""The README's central system and charge point examples, run as a user would copy them: they
talk to each other, and ``python -m websockets`` talks to the central system."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers.interop.peers import open_process
from helpers.processes import free_port, wait_listening

from trio_ocpp.testing import fake_charge_point, open_recorder

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def example(section: str, port: int) -> str:
    """The first python block of a README section, on ``port`` of the loopback interface."""
    text = README[README.index(f"## {section}\n") :]
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None, section
    code = match.group(1).replace("9000", str(port)).replace('"0.0.0.0"', '"127.0.0.1"')
    return code.replace("localhost", "127.0.0.1")


async def test_the_readme_examples_work_together_and_with_python_m_websockets() -> None:
    port = free_port()
    server_code = example("Central system (server side)", port)
    client_code = example("Charge point (client side)", port)
    boot = '[2, "12345", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]'
    with trio.fail_after(20):
        async with open_process(["python", "-c", server_code], "README server") as server:
            await wait_listening(port)
            async with open_process(["python", "-c", client_code], "README client") as client:
                assert await client.wait() == 0, client.report()
            assert client.stdout.text.strip() == "Accepted", client.report()
            # Both configure logging: the server shows its connections, the client its frames.
            await server.wait_for(
                lambda: "CP 1: connected (OCPP 1.6)" in server.stderr.text,
                "the server's log",
                5,
                server.stderr,
            )
            assert '"BootNotification"' in client.stderr.text, client.report()
            url = f"ws://127.0.0.1:{port}/CP_1"
            async with open_process(["python", "-m", "websockets", url]) as tool:
                await tool.wait_for(lambda: "Connected" in tool.stdout.text, "connected")
                await tool.send_line(boot)
                await tool.wait_for(lambda: '[3,"12345",{' in tool.stdout.text, "the answer")
            assert '"status":"Accepted"' in tool.stdout.text, tool.report()
            assert server.process.returncode is None, server.report()


def blocks(section: str) -> list[str]:
    """The python blocks of a README section."""
    start = README.index(f"## {section}\n")
    end = README.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", README[start:end], re.DOTALL)


async def test_the_application_side_example_runs() -> None:
    port = free_port()
    code = blocks("The application's side of a connection")[0].replace("9000", str(port))
    with trio.fail_after(20):
        async with open_process(["python", "-c", code], "README application side") as demo:
            assert await demo.wait() == 0, demo.report()
    out = demo.stdout.text
    for line in (
        "CP_1 connected",
        "CP_1 HeartbeatInterval: 300",
        "CP_1 sent Heartbeat, which nobody handles",
        "CP_1: Heartbeat is not supported",
        "audit: CP_1 inbound BootNotification: result",
        "audit: CP_1 outbound GetConfiguration: result",
        "audit: CP_1 inbound Heartbeat: error",
        "CP_1 disconnected (1000)",
    ):
        assert line in out, demo.report()


async def test_the_relay_example_passes_traffic_both_ways() -> None:

    import trio_ocpp
    from trio_ocpp import v16
    from trio_ocpp.exceptions import NotSupportedError
    from trio_ocpp.routing import on

    namespace: dict[str, Any] = {}
    exec(blocks("The application's side of a connection")[1], namespace)
    relay_class = namespace["Relay"]

    class Upstream(v16.ChargePoint):
        @on("BootNotification")
        def on_boot(self, **_: Any) -> Any:
            return v16.call_result.BootNotification(
                current_time="2024-01-01T00:00:00Z", interval=300, status="Accepted"
            )

    class Station(v16.ChargePoint):
        @on("Reset")
        def on_reset(self, type: str) -> Any:
            return v16.call_result.Reset(status="Accepted" if type == "Soft" else "Rejected")

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            upstream = await nursery.start(trio_ocpp.Server(Upstream).run, "127.0.0.1", 0)
            relay_class.upstream_url = f"ws://127.0.0.1:{upstream.port}"
            relay = await nursery.start(trio_ocpp.Server(relay_class).run, "127.0.0.1", 0)
            url = f"ws://127.0.0.1:{relay.port}"
            async with trio_ocpp.connect(url, Station, identity="CP_1") as cp:
                boot = v16.call.BootNotification(charge_point_model="M", charge_point_vendor="V")
                assert (await cp.call(boot)).status == "Accepted"  # answered upstream
                # Heartbeat: nobody upstream handles it; its error comes back down as it was.
                with pytest.raises(NotSupportedError):
                    await cp.call(v16.call.Heartbeat())
                seen_upstream = upstream.get("CP_1")
                assert seen_upstream is not None
                result = await seen_upstream.call(v16.call.Reset(type="Soft"))
                assert result.status == "Accepted"  # the station answered, through the relay
            nursery.cancel_scope.cancel()


async def test_the_testing_examples_pass_under_pytest(tmp_path: Path) -> None:
    """The section's blocks, one test module as a user would paste them, run by pytest in a
    folder of their own (no configuration: the README's markers are all it takes), with a
    recording of the charge point the replay example names."""
    code = "\n\n".join(blocks("Testing your application"))
    namespace: dict[str, Any] = {}
    exec(compile(blocks("Testing your application")[0], "README", "exec"), namespace)
    async with (
        open_recorder(tmp_path / "recordings") as recorder,
        fake_charge_point(namespace["CentralSystem"], "CP_7", observers=[recorder]) as cp,
    ):
        await cp.call("Authorize", {"idTag": "OK-1"})
    (tmp_path / "test_readme_testing.py").write_text(code, encoding="utf-8")
    with trio.fail_after(60):
        result = await trio.run_process(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=tmp_path,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    output = result.stdout.decode()
    assert result.returncode == 0, output + result.stderr.decode()
    assert "4 passed" in output, output

"""The README's central system and charge point examples, run as a user would copy them: they
talk to each other, and ``python -m websockets`` talks to the central system."""

from __future__ import annotations

import re
from pathlib import Path

import trio
from helpers.interop.peers import open_process
from helpers.processes import free_port, wait_listening

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

"""The walkthrough, scripted: the example central system and a generic WebSocket client.

What a newcomer types in two terminals::

    python -m trio_ocpp --port 9000
    python -m websockets ws://localhost:9000/cp_id_1
    > [2, "12345", "BootNotification", {"chargePointVendor": "The Mobility House", ...}]
    < [3,"12345",{"status":"Accepted","currentTime":"...","interval":10}]

``python -m websockets`` offers no subprotocol; the example server serves such clients OCPP 1.6.
"""

from __future__ import annotations

import json
import re
import socket

import trio
from helpers.interop.peers import Process, open_process

BOOT = (
    '[2, "12345", "BootNotification", '
    '{"chargePointVendor": "The Mobility House", "chargePointModel": "Optimus"}]'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_listening(server: Process, port: int, timeout: float = 8) -> None:
    """Until a TCP connection to ``port`` succeeds (the server may still be importing)."""
    with trio.move_on_after(timeout):
        while server.process.returncode is None:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
            else:
                await stream.aclose()
                return
    raise AssertionError(f"the server is not listening on port {port}\n{server.report()}")


async def test_walkthrough() -> None:
    port = free_port()
    with trio.fail_after(20):
        async with open_process(["python", "-m", "trio_ocpp", "--port", str(port)]) as server:
            await wait_listening(server, port)
            url = f"ws://localhost:{port}/cp_id_1"
            async with open_process(["python", "-m", "websockets", url]) as client:
                await client.wait_for(lambda: "Connected to" in client.stdout.text, "connected")
                await client.send_line(BOOT)
                # The reply, as the CLI prints it: '< [3,"12345",{...}]'.
                found = await client.wait_for(
                    lambda: re.search(r'(\[3,"12345",\{.*?\}\])', client.stdout.text),
                    "the BootNotification CALLRESULT",
                )
                reply = found.group(1)
                assert reply.startswith('[3,"12345",{')
                assert '"interval":10' in reply and '"status":"Accepted"' in reply
                message_type, unique_id, payload = json.loads(reply)
                assert (message_type, unique_id) == (3, "12345")
                assert payload["currentTime"]

            # The server logs every frame, with the charge point's identity.
            def logged() -> bool:
                text = server.stderr.text
                return "cp_id_1: receive message" in text and "cp_id_1: send" in text

            await server.wait_for(logged, "the frames in the server's log", output=server.stderr)
            log = server.stderr.text
            assert f"cp_id_1: receive message {BOOT}" in log
            assert 'cp_id_1: send [3,"12345",{' in log

"""The example central system's HTTP side (``python -m trio_ocpp --http``), as an operator uses
it over real sockets: health, metrics, the charge points, calls with their HTTP statuses, the
frames as server-sent events, and the credentials it insists on off loopback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

pytest.importorskip("hypercorn")
from helpers.cluster_parts import Station
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp.v201 import call

Reply = tuple[int, Any]


def request(url: str, body: Any = None, auth: str | None = None) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Central:
    def __init__(self, port: int, http: int) -> None:
        self.url = f"ws://127.0.0.1:{port}/"
        self.http = f"http://127.0.0.1:{http}"

    async def get(self, path: str, auth: str | None = None) -> Reply:
        return await trio.to_thread.run_sync(request, self.http + path, None, auth)

    async def post(self, path: str, body: Any) -> Reply:
        return await trio.to_thread.run_sync(request, self.http + path, body)


@asynccontextmanager
async def central_system(*options: str) -> AsyncIterator[Central]:
    port, http = free_port(), free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--http", f"127.0.0.1:{http}", "--log-level", "WARNING", *options]
    process = await trio.lowlevel.open_process(command)
    try:
        with trio.fail_after(20):
            await wait_listening(port)
            await wait_listening(http)
        yield Central(port, http)
    finally:
        process.kill()
        await process.wait()


async def test_an_operator_lists_and_calls_charge_points_over_http() -> None:
    async with (
        central_system() as central,
        trio_ocpp.connect(central.url, Station, identity="CP 1") as cp,
    ):
        await cp.call(call.Heartbeat())
        assert await central.get("/health") == (200, {"status": "ok", "charge_points": 1})
        status, listing = await central.get("/charge-points")
        assert status == 200
        [entry] = listing["charge_points"]
        assert (entry["identity"], entry["version"]) == ("CP 1", "2.0.1")
        assert entry["remote"].startswith("127.0.0.1:") and entry["last_frame_at"] > 0
        assert entry["statistics"]["frames_received"] >= 1

        data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "X"}}]
        status, body = await central.post(
            "/charge-points/CP%201/calls/GetVariables", {"getVariableData": data}
        )
        assert status == 200, body
        assert body["result"]["getVariableResult"][0]["attributeValue"] == "CP 1"
        # The charge point's handler fails: its CALLERROR, as 502 with the code.
        status, body = await central.post(
            "/charge-points/CP%201/calls/Reset", {"type": "Immediate"}
        )
        assert (status, body["error"]["code"]) == (502, "InternalError")
        # Nothing is sent for what does not validate, nor for an action the version lacks.
        status, body = await central.post("/charge-points/CP%201/calls/Reset", {"type": "Soon"})
        assert status == 422 and "Soon" in body["error"]
        status, _ = await central.post("/charge-points/CP%201/calls/NoSuchAction", {})
        assert status == 422
        status, body = await central.post(
            "/charge-points/CP%201/calls/GetLocalListVersion?timeout=0.3", {}
        )
        assert status == 504, body
        assert await central.post("/charge-points/CP9/calls/Reset", {"type": "Immediate"}) == (
            404,
            {"error": "'CP9' is not connected"},
        )
        assert cp.received == ["GetVariables", "Reset", "GetLocalListVersion"]

        status, actions = await central.get("/charge-points/CP%201/actions")
        assert actions["version"] == "2.0.1"
        assert actions["actions"]["Reset"] == {"type": "Immediate"}
        status, metrics = await central.get("/metrics")
        assert status == 200 and 'ocpp_frames_total{action="GetVariables"' in metrics


async def test_the_frames_stream_as_server_sent_events() -> None:
    async with (
        central_system() as central,
        trio_ocpp.connect(central.url, Station, identity="CP2") as cp,
    ):
        stream = await trio.open_tcp_stream("127.0.0.1", int(central.http.rsplit(":", 1)[1]))
        async with stream:
            await stream.send_all(b"GET /charge-points/CP2/frames HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            with trio.fail_after(10):
                while b": watching" not in received:
                    received += await stream.receive_some()
                await cp.call(call.Heartbeat())
                while received.count(b"data: ") < 2:
                    received += await stream.receive_some()
        assert b"text/event-stream" in received
        events = [
            json.loads(line[6:]) for line in received.split(b"\n") if line.startswith(b"data: ")
        ]
        assert [e["direction"] for e in events] == ["in", "out"]
        assert '"Heartbeat"' in events[0]["text"]


async def test_credentials_are_required_when_given_and_off_loopback(tmp_path: Path) -> None:
    secrets = tmp_path / "http-auth"
    secrets.write_text("operator:s3cret\n")
    async with central_system("--http-auth", str(secrets)) as central:
        assert (await central.get("/health"))[0] == 401
        assert (await central.get("/health", auth="operator:wrong"))[0] == 401
        assert (await central.get("/health", auth="operator:s3cret"))[0] == 200
    # A public address without credentials: refused before anything starts.
    command = [sys.executable, "-m", "trio_ocpp", "--http", "0.0.0.0:0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "needs credentials" in done.stderr

"""The example central system's HTTP side (``python -m trio_ocpp --http``), as an operator uses
it over real sockets: health, metrics, the charge points, calls with their HTTP statuses, the
frames as server-sent events, and the credentials it insists on off loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trio

pytest.importorskip("hypercorn")
from helpers.central_http import central_system
from helpers.cluster_parts import Station

import trio_ocpp
from trio_ocpp.v201 import call


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

"""One HTTP side for ``python -m trio_ocpp --workers 2 --http ...`` (no cluster): the supervisor
answers for every worker, relaying to the one that holds a charge point; and a worker killed
with SIGKILL stops counting in the scrape's gauge at once, its counters kept."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

pytest.importorskip("hypercorn")
pytest.importorskip("prometheus_client")

from helpers.central_http import Central
from helpers.cluster_parts import Station
from helpers.processes import free_port, stop, wait_listening
from helpers.samples import Samples, parse, total

import trio_ocpp

STATIONS = 16  # all on one worker: one chance in 2**15


@asynccontextmanager
async def workers_with_http() -> AsyncIterator[Central]:
    port, http = free_port(), free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--http", f"127.0.0.1:{http}", "--log-level", "WARNING"]
    process = await trio.lowlevel.open_process(command)
    try:
        central = Central(port, http)
        with trio.fail_after(30):
            await wait_listening(http)
            # A worker serves the supervisor once it listens: then both share the port.
            while (await central.get("/health"))[1]["workers"]["serving"] < 2:
                await trio.sleep(0.05)
        yield central
    finally:
        await stop(process)


async def scrape(central: Central) -> Samples:
    status, text = await central.get("/metrics")
    assert status == 200
    return parse(text)


@asynccontextmanager
async def stations(central: Central, reconnect_after: float) -> AsyncIterator[None]:
    clients = [
        trio_ocpp.Client(
            central.url,
            Station,
            identity=f"CP{i}",
            retry_backoff_wait_minimum=reconnect_after,
            retry_backoff_random_range=0.2,
        )
        for i in range(STATIONS)
    ]
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(client.run)
        with trio.fail_after(20):
            while (await central.get("/health"))[1].get("charge_points") != STATIONS:
                await trio.sleep(0.05)
        yield
        for client in clients:
            await client.aclose()


async def frames_of(central: Central, identity: str, count: int, seen: list[Any]) -> None:
    """The live page's stream of ``identity``'s frames, through the supervisor."""
    stream = await trio.open_tcp_stream("127.0.0.1", int(central.http.rsplit(":", 1)[1]))
    async with stream:
        await stream.send_all(
            f"GET /charge-points/{identity}/frames HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        received = b""
        while received.count(b"data: ") < count:
            received += await stream.receive_some()
            if b": watching" in received and not seen:
                seen.append("watching")
    seen += [json.loads(line[6:]) for line in received.split(b"\n") if line[:6] == b"data: "]


async def test_the_supervisor_serves_every_workers_charge_points() -> None:
    async with workers_with_http() as central, stations(central, reconnect_after=0.2):
        status, health = await central.get("/health")
        assert status == 200 and health["status"] == "ok"
        assert health["workers"]["serving"] == 2
        status, listing = await central.get("/charge-points")
        by_worker: dict[int, list[str]] = defaultdict(list)
        for entry in listing["charge_points"]:
            assert entry["version"] == "2.0.1" and entry["remote"].startswith("127.0.0.1:")
            by_worker[entry["worker"]].append(entry["identity"])
        assert sorted(by_worker) == [0, 1], "the kernel spread the connections over both"
        assert sum(map(len, by_worker.values())) == STATIONS

        # One scrape, both workers' charge points (each writes its figures once a second).
        with trio.fail_after(10):
            while total((found := await scrape(central))["ocpp_connected_charge_points"]) < 16:
                await trio.sleep(0.1)
        nodes = {labels["node"]: v for labels, v in found["ocpp_connected_charge_points"] if v}
        assert nodes == {f"worker {w}": len(ids) for w, ids in by_worker.items()}

        # A call reaches a charge point on either worker, its frames streamed on the way.
        data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "X"}}]
        for identity in (by_worker[0][0], by_worker[1][0]):
            seen: list[Any] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(frames_of, central, identity, 2, seen)
                with trio.fail_after(10):
                    while not seen:
                        await trio.sleep(0.02)
                status, body = await central.post(
                    f"/charge-points/{identity}/calls/GetVariables", {"getVariableData": data}
                )
            assert status == 200, body
            assert body["result"]["getVariableResult"][0]["attributeValue"] == identity
            assert [event["direction"] for event in seen[1:]] == ["out", "in"]
            assert '"GetVariables"' in seen[1]["text"]
        # The version comes from the worker that holds it: 2.0.1's actions, not the default.
        status, actions = await central.get(f"/charge-points/{by_worker[1][0]}/actions")
        assert (status, actions["version"]) == (200, "2.0.1")
        status, body = await central.post("/charge-points/CP99/calls/Reset", {"type": "Soft"})
        assert status == 404, body


async def test_a_killed_workers_charge_points_stop_counting() -> None:
    async with workers_with_http() as central, stations(central, reconnect_after=4):
        with trio.fail_after(10):
            while total((before := await scrape(central))["ocpp_connected_charge_points"]) < 16:
                await trio.sleep(0.1)
        opened = total(before["ocpp_connections_opened_total"])
        assert opened == STATIONS
        _, health = await central.get("/health")
        killed = min(health["workers"]["pids"].items(), key=lambda item: item[0])
        _, listing = await central.get("/charge-points")
        on_killed = sum(1 for e in listing["charge_points"] if e["worker"] == int(killed[0]))
        os.kill(killed[1], signal.SIGKILL)

        # At once (the stations wait 4 s to reconnect): the survivor's charge points only.
        with trio.fail_after(3):
            while True:
                found = await scrape(central)
                assert total(found["ocpp_connections_opened_total"]) >= opened, "a counter fell"
                if total(found["ocpp_connected_charge_points"]) == STATIONS - on_killed:
                    break
                await trio.sleep(0.05)
        # Then back up as they reconnect, to either worker; the counters went on from there.
        with trio.fail_after(20):
            while total((found := await scrape(central))["ocpp_connected_charge_points"]) < 16:
                assert total(found["ocpp_connections_opened_total"]) >= opened
                await trio.sleep(0.1)
        with trio.fail_after(5):
            while total((await scrape(central))["ocpp_connections_opened_total"]) < 16 + on_killed:
                await trio.sleep(0.1)
        # The restarted worker answers once its HTTP side is up (the charge points may all
        # have gone to the survivor before).
        with trio.fail_after(20):
            while (await central.get("/health"))[1]["workers"]["serving"] < 2:
                await trio.sleep(0.1)

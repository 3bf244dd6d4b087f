"""Cluster benchmark: calls across nodes through Redis against local calls, and events.

    python -m benchmarks.cluster                  # 1,000 charge points over 2 workers
    python -m benchmarks.cluster --quick          # 100 charge points, fewer calls
    python -m benchmarks --sections cluster       # the same as a section of the benchmarks

Needs redis-server on PATH and the redis extra (``pip install -e ".[redis]"``). It starts its own
redis-server (a free port, no persistence) and ``python -m trio_ocpp --workers 2 --cluster ...
--cluster-events Heartbeat``. This process plays the charge points (2.0.1, connected to the
workers' port) and is the application, the third process: ``trio_ocpp.cluster.connect()``.
It checks that every charge point is reachable through ``cluster.call()``, then measures in the
same run:

- cross-node: ``cluster.call(GetVariables)`` one at a time (p50/p99) and ``--concurrency`` at
  once (calls/s), each call going app -> Redis -> worker -> charge point and back;
- local: ``cp.call(GetVariables)`` from an in-process server (no cluster) to charge points of
  this process, the same two ways;
- events: every charge point sends Heartbeats; the workers append them to the stream and a
  consumer group reads and acknowledges them: events/s from the first sent to the last
  acknowledged, and how many are missing (must be 0).

Prints a table and writes ``benchmarks/results/cluster.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

import trio_ocpp
from trio_ocpp import cluster, v201
from trio_ocpp.routing import on

from .report import RESULTS, table

TIME = "2024-01-01T00:00:00Z"


class Station(v201.ChargePoint):
    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        result = {"attributeStatus": "Accepted", "attributeValue": self.id, **get_variable_data[0]}
        return v201.call_result.GetVariables(get_variable_result=[result])


class Csms(v201.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time=TIME)


REQUEST = v201.call.GetVariables(
    get_variable_data=[{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "X"}}]
)
Call = Callable[[str], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


async def one_at_a_time(call: Call, identities: list[str], calls: int) -> dict[str, float]:
    latencies = []
    for identity in itertools.islice(itertools.cycle(identities), calls):
        started = time.perf_counter()
        await call(identity)
        latencies.append(time.perf_counter() - started)
    return summary(latencies)


async def at_once(call: Call, identities: list[str], calls: int, concurrency: int) -> float:
    """Calls per second with ``concurrency`` callers, each on charge points of its own."""
    per_caller = max(1, calls // concurrency)

    async def caller(index: int) -> None:
        mine = identities[index::concurrency]
        for identity in itertools.islice(itertools.cycle(mine), per_caller):
            await call(identity)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(concurrency):
            nursery.start_soon(caller, index)
    return per_caller * concurrency / (time.perf_counter() - started)


async def connect_stations(
    nursery: trio.Nursery, port: int, identities: list[str], stop: trio.Event
) -> list[Station]:
    """Connect ``identities`` (50 handshakes at a time); they stay until ``stop``."""
    stations: list[Station] = []

    async def station(identity: str, task_status: trio.TaskStatus[None]) -> None:
        url = f"ws://127.0.0.1:{port}/"
        async with trio_ocpp.connect(url, Station, identity=identity) as cp:
            stations.append(cp)
            task_status.started()
            await stop.wait()

    for first in range(0, len(identities), 50):
        async with trio.open_nursery() as starting:
            for identity in identities[first : first + 50]:
                starting.start_soon(nursery.start, station, identity)
    return stations


async def wait_for_two_workers(
    app: cluster.Cluster, nursery: trio.Nursery, port: int, stop: trio.Event
) -> None:
    """Until a probe connection landed on each worker: then both are listening."""
    with trio.fail_after(60):
        while True:
            try:
                await trio.open_tcp_stream("127.0.0.1", port)
                break
            except OSError:
                await trio.sleep(0.1)
        for n in itertools.count():
            await connect_stations(nursery, port, [f"PROBE{n}"], stop)
            if len(set((await app.charge_points()).values())) == 2:
                break


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    redis_port, port = free_port(), free_port()
    url = f"redis://127.0.0.1:{redis_port}"
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--cluster", url, "--cluster-events", "Heartbeat"]
    command += ["--log-level", "WARNING"]
    workers = subprocess.Popen(command)
    identities = [f"CP{i:05d}" for i in range(args.stations)]
    results: dict[str, Any] = {"stations": args.stations, "calls": args.calls}
    try:
        await trio.sleep(0.3)  # redis-server's start
        stop = trio.Event()
        async with cluster.connect(url) as app, trio.open_nursery() as nursery:
            await wait_for_two_workers(app, nursery, port, stop)
            started = time.perf_counter()
            stations = await connect_stations(nursery, port, identities, stop)
            results["connect_s"] = time.perf_counter() - started
            # Membership is written in batches: a charge point shows a moment after it came.
            with trio.fail_after(10):
                while not set(identities) <= (present := await app.charge_points()).keys():
                    await trio.sleep(0.05)
            nodes: dict[str, int] = {}
            for identity in identities:
                nodes[present[identity]] = nodes.get(present[identity], 0) + 1
            results["per_node"] = sorted(nodes.values())

            async def remote(identity: str) -> Any:
                return await app.call(identity, REQUEST)

            started = time.perf_counter()
            async with trio.open_nursery() as everyone:
                for identity in identities:
                    everyone.start_soon(remote, identity)
            results["all_reachable_s"] = time.perf_counter() - started

            # The baseline: an in-process server calling charge points of this process.
            local = trio_ocpp.Server(Csms)
            await nursery.start(local.run, "127.0.0.1", 0)
            nearby = [f"LOCAL{i:03d}" for i in range(args.concurrency)]
            await connect_stations(nursery, local.port, nearby, stop)

            async def direct(identity: str) -> Any:
                cp = local.get(identity)
                assert cp is not None
                return await cp.call(REQUEST)

            for name, call, targets in (
                ("local cp.call()", direct, nearby),
                ("cross-node cluster.call()", remote, identities),
            ):
                row = await one_at_a_time(call, targets, args.calls)
                row["calls_per_s"] = await at_once(call, targets, args.calls, args.concurrency)
                results[name] = row
            results["events"] = await events(app, stations, args.heartbeats)
            stop.set()
            nursery.cancel_scope.cancel()
    finally:
        workers.send_signal(signal.SIGTERM)
        workers.wait(30)
        redis.kill()
        redis.wait()
    return results


async def events(app: cluster.Cluster, stations: list[Station], each: int) -> dict[str, Any]:
    """Every station sends ``each`` Heartbeats; one consumer reads and acknowledges them."""
    expected = len(stations) * each
    seen: set[tuple[str, str]] = set()
    async with app.events("bench", "c1") as stream, trio.open_nursery() as nursery:

        async def beat(cp: Station) -> None:
            for _ in range(each):
                await cp.call(v201.call.Heartbeat())

        started = time.perf_counter()
        for cp in stations:
            nursery.start_soon(beat, cp)
        with trio.move_on_after(60):
            async for event in stream:
                seen.add((event.identity, event.id))
                await stream.ack(event)
                if len(seen) == expected:
                    break
        elapsed = time.perf_counter() - started
    return {
        "events": expected,
        "missing": expected - len(seen),
        "events_per_s": len(seen) / elapsed,
    }


def show(results: dict[str, Any]) -> str:
    names = ("local cp.call()", "cross-node cluster.call()")
    calls = table(
        f"GetVariables: {results['stations']} charge points over 2 workers (per worker: "
        f"{results['per_node']}), {results['calls']} calls one at a time, then "
        f"{results['concurrency']} at once",
        ["path", "p50 ms", "p99 ms", "calls/s"],
        [[n, results[n]["p50_ms"], results[n]["p99_ms"], results[n]["calls_per_s"]] for n in names],
    )
    e = results["events"]
    return (
        f"{calls}\n"
        f"connected in {results['connect_s']:.1f} s; every one called through the cluster in "
        f"{results['all_reachable_s']:.2f} s\n"
        f"events: {e['events']} Heartbeats, {e['events_per_s']:,.0f} events/s appended, read "
        f"and acknowledged, {e['missing']} missing"
    )


def run(stations: int, calls: int, concurrency: int, heartbeats: int) -> dict[str, Any]:
    """Measure (``python -m benchmarks`` runs this as its cluster section)."""
    args = argparse.Namespace(
        stations=stations, calls=calls, concurrency=concurrency, heartbeats=heartbeats
    )
    results = trio.run(measure, args)
    results.update(concurrency=concurrency, python=platform.python_version(), cpus=os.cpu_count())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stations", type=int, default=1000, help="charge points (1000)")
    parser.add_argument("--calls", type=int, default=3000, help="calls of each kind (3000)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls at once (50)")
    parser.add_argument("--heartbeats", type=int, default=5, help="per charge point (5)")
    parser.add_argument("--quick", action="store_true", help="100 stations, 600 calls")
    args = parser.parse_args()
    if args.quick:
        args.stations, args.calls, args.heartbeats = 100, 600, 2
    results = run(args.stations, args.calls, args.concurrency, args.heartbeats)
    print(show(results))
    RESULTS.mkdir(exist_ok=True)
    Path(RESULTS / "cluster.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

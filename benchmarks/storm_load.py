"""One process's share of a storm: the simulator's 1.6 charge points (``trio_ocpp.simulate``),
started together at an agreed moment with at most ``--max-handshakes`` opening handshakes in
flight (the simulator alone starts them all at once), then booting, reporting their status and
heartbeating. ``benchmarks/storm.py`` runs several of these so that the load is not one core's.

It says ``ready`` on its standard output, then reads the start (Unix time) from its standard
input, so that every process starts its share at the same moment whatever its import took.
It writes every boot's latency and, for the steady state, every Heartbeat's send time (from
the agreed start) and latency, so that the figures can be taken after the last boot of the
whole fleet; with its own CPU seconds when its last charge point was booted. ``node/storm_load.js``
does the same on Node's ``ws`` and writes the same JSON.

    echo 0 | python -m benchmarks.storm_load --url ws://127.0.0.1:9000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from typing import Any

import attrs
import trio

from trio_ocpp import client_ssl_context
from trio_ocpp._runtime.observe import ConnectionInfo, Direction, ExchangeRecord, Outcome
from trio_ocpp.exceptions import ConnectionClosedError
from trio_ocpp.simulate import Behaviour, FleetStats, SimulatedChargePoint16

from .loadgen import raise_fd_limit

#: How long a handshake may hold its place in the gate: the Client's connect timeout.
CONNECT_TIMEOUT = 30.0


@attrs.define
class StormStats(FleetStats):
    """The fleet's statistics, plus: who just connected (to open the gate), the steady
    state's heartbeats as (sent after the start, latency), and the CPU seconds at the last boot."""

    connected_now: dict[str, trio.Event] = attrs.field(factory=dict)
    boot_latencies: list[float] = attrs.field(factory=list)
    #: Connections that ended during the run, by close code; and charge points whose task
    #: ended with the connection closed under it (the simulator lets that escape, see below).
    closes: Counter[str] = attrs.field(factory=Counter)
    lost: int = 0
    heartbeats: list[tuple[float, float]] = attrs.field(factory=list)
    origin: float = 0.0
    #: When the run ends (trio time): closes from then on are the load's own goodbyes.
    ends_at: float = math.inf
    cpu_at_start: float = 0.0
    cpu_at_last_boot: float | None = None

    def connection_opened(self, connection: ConnectionInfo) -> None:
        super().connection_opened(connection)
        opened = self.connected_now.pop(connection.identity, None)
        if opened is not None:
            opened.set()

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        super().connection_closed(connection, code, reason, duration)
        if trio.current_time() < self.ends_at:
            self.closes[str(code)] += 1

    def first_boot(self) -> None:
        super().first_boot()
        if self.all_booted_after is not None and self.cpu_at_last_boot is None:
            self.cpu_at_last_boot = time.process_time()

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        super().exchange(connection, record)
        if record.direction is Direction.OUTBOUND and record.outcome is Outcome.RESULT:
            if record.call.action == "Heartbeat":
                self.heartbeats.append((record.started_at - self.origin, record.latency))
            elif record.call.action == "BootNotification":
                self.boot_latencies.append(record.latency)


async def storm(args: argparse.Namespace, stats: StormStats) -> None:
    shard, shards = map(int, args.shard.split("/"))
    context = client_ssl_context(cafile=args.cafile) if args.cafile else None
    behaviour = Behaviour(transactions_per_hour=0, heartbeat_interval=args.heartbeat_interval)
    members = []
    for n in range(shard + 1, args.charge_points + 1, shards):
        identity = f"SIM-{n:05d}"
        password = None if args.password_prefix is None else args.password_prefix + identity
        members.append(
            SimulatedChargePoint16(
                args.url, identity, behaviour=behaviour, stats=stats, basic_auth=password,
                ssl_context=context, rng=random.Random(identity), connect_timeout=CONNECT_TIMEOUT,
            )
        )  # fmt: skip
    gate = trio.Semaphore(max(1, args.max_handshakes // shards))
    stats.expected = len(members)
    await trio.sleep(max(0.0, args.start_at - time.time()))
    stats.origin, stats.cpu_at_start = args.start_at, time.process_time()
    stats.started_at = trio.current_time() - (time.time() - args.start_at)
    stats.ends_at = stats.started_at + args.duration

    async def admit(cp: SimulatedChargePoint16) -> None:
        # The gate's place is given back once the handshake is done, or at the connect timeout.
        opened = stats.connected_now[cp.identity] = trio.Event()
        with trio.move_on_after(CONNECT_TIMEOUT):
            await opened.wait()
        gate.release()

    async def run(cp: SimulatedChargePoint16) -> None:
        # A connection closed while a connector's StatusNotification is on its way escapes the
        # simulated charge point as a ConnectionClosedError in a group, instead of ending just
        # that connection: counted, and the charge point is lost, not the whole load process.
        try:
            await cp.run()
        except* ConnectionClosedError:
            stats.lost += 1

    with trio.move_on_after(args.duration):
        async with trio.open_nursery() as nursery:
            for cp in members:
                await gate.acquire()
                nursery.start_soon(admit, cp)
                nursery.start_soon(run, cp)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.storm_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--charge-points", type=int, default=100, help="the whole fleet's")
    parser.add_argument("--shard", default="0/1", help="this process's share: i/N")
    parser.add_argument("--max-handshakes", type=int, default=500, help="the whole fleet's")
    parser.add_argument("--heartbeat-interval", type=float, default=10)
    parser.add_argument("--duration", type=float, default=60, help="seconds from the start")
    parser.add_argument("--cafile", help="for wss://")
    parser.add_argument("--password-prefix", help="Basic auth: the password is PREFIX+identity")
    parser.add_argument("--json", required=True, help="where the statistics go")
    args = parser.parse_args()
    raise_fd_limit()
    logging.basicConfig(level=logging.ERROR)  # not a line per refused or failed connection
    print("ready", flush=True)
    args.start_at = float(sys.stdin.readline())
    stats = StormStats()
    trio.run(storm, args, stats)
    result: dict[str, Any] = {
        "boots": stats.boot_latencies,
        "heartbeats": stats.heartbeats,
        "all_connected_after": stats.all_connected_after,
        "all_booted_after": stats.all_booted_after,
        "failed_connects": stats.failed_connects,
        "unexpected": stats.unexpected,
        "closes": stats.closes,
        "lost": stats.lost,
        "cpu_at_start": stats.cpu_at_start,
        "cpu_at_last_boot": stats.cpu_at_last_boot,
        "cpu": time.process_time(),
    }
    with open(args.json, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()

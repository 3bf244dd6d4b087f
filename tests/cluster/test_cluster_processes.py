"""Workers and the cluster as real processes: ``python -m trio_ocpp --workers 2 --cluster ...``,
charge points connected to it, and this test process as the application that calls them; a
worker killed with SIGKILL, the parent stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import Station, get_variables
from helpers.redis_server import RedisServer, free_port

import trio_ocpp
from trio_ocpp.cluster import Cluster, NotConnectedError, connect

STATIONS = 20
#: The membership expiry of the example central system (trio_ocpp.cluster.connect's default).
MEMBERSHIP_TTL = 10


class Workers:
    """``python -m trio_ocpp --workers 2`` and what it logged."""

    def __init__(self, process: trio.Process, port: int):
        self.process = process
        self.port = port
        self.log: list[str] = []
        self._grew = trio.Event()

    async def read_log(self) -> None:
        assert self.process.stderr is not None
        pending = b""
        async for chunk in self.process.stderr:
            *lines, pending = (pending + chunk).split(b"\n")
            self.log += [line.decode(errors="replace") for line in lines]
            self._grew.set()
            self._grew = trio.Event()

    async def pids(self, count: int) -> list[int]:
        """The pids of the last ``count`` workers started, once that many were."""
        return [int(pid) for pid in await self.matches(r"started \(pid (\d+)", count)]

    async def matches(self, pattern: str, count: int) -> list[str]:
        """The first group of the last ``count`` lines matching ``pattern``, once there are."""
        with trio.fail_after(30):
            while True:
                found = [m[1] for line in self.log if (m := re.search(pattern, line))]
                if len(found) >= count:
                    return found[-count:]
                await self._grew.wait()


@asynccontextmanager
async def workers(redis: RedisServer) -> AsyncIterator[Workers]:
    port = free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--host", "127.0.0.1"]
    # INFO: the parent says which worker started with which pid.
    command += ["--port", str(port), "--cluster", redis.url, "--log-level", "INFO"]
    process = await trio.lowlevel.open_process(command, stderr=subprocess.PIPE)
    running = Workers(process, port)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(running.read_log)
            yield running
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def all_present(cluster: Cluster, count: int) -> dict[str, str]:
    with trio.fail_after(20):
        while len(present := await cluster.charge_points()) < count:
            await trio.sleep(0.05)
    return present


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_workers_share_a_port_and_survive_a_sigkill(redis: RedisServer) -> None:
    async with workers(redis) as running, connect(redis.url) as app:
        first = await running.pids(2)
        # Both listen before the charge points come, or the kernel gives them all to one.
        await running.matches(r"(listening on port)", 2)
        url = f"ws://127.0.0.1:{running.port}/"
        clients = [
            trio_ocpp.Client(
                url,
                Station,
                identity=f"CP{i}",
                retry_backoff_wait_minimum=0.2,
                retry_backoff_random_range=0.3,
            )
            for i in range(STATIONS)
        ]
        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(client.run)
            present = await all_present(app, STATIONS)
            nodes = set(present.values())
            assert len(nodes) == 2, "the kernel spread the connections over both workers"
            for identity in present:
                result = await app.call(identity, get_variables())
                assert result.get_variable_result[0]["attribute_value"] == identity
            # A line says which process wrote it; each worker's node said once that it joined.
            started = re.compile(r" supervisor INFO worker (\d+) started \(pid (\d+)\)")
            index = {int(m[2]): m[1] for line in running.log if (m := started.search(line))}
            for pid in first:
                joined = [line for line in running.log if f"-{pid}-" in line and "joined" in line]
                assert len(joined) == 1, joined
                assert f" worker {index[pid]} INFO node " in joined[0]

            # SIGKILL the worker of CP0: calls to its charge points fail at once, never after
            # the membership expiry, and succeed again once they reconnected.
            victim_node = present["CP0"]
            victim = int(victim_node.split("-")[-2])
            assert victim in first
            os.kill(victim, signal.SIGKILL)
            orphans = [i for i, node in present.items() if node == victim_node]
            longest = 0.0
            with trio.fail_after(30):
                for identity in orphans:
                    while True:
                        started = trio.current_time()
                        try:
                            await app.call(identity, get_variables(), timeout=MEMBERSHIP_TTL)
                            break
                        except NotConnectedError:
                            await trio.sleep(0.05)
                        finally:
                            longest = max(longest, trio.current_time() - started)
            assert longest < 2, f"a call waited {longest:.1f} s"
            # The parent started the dead worker again: a third start (the two first ones may
            # be all the log holds yet).
            again = await running.pids(3)
            assert again[-1] not in first
            assert any(f"pid {victim}) exited with -9" in line for line in running.log)
            for client in clients:
                await client.aclose()

        # SIGTERM: every worker stops, and the parent after them.
        workers_now = [p for p in await running.pids(3) if alive(p)]
        running.process.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            assert await running.process.wait() == 0
        assert not [p for p in workers_now if alive(p)]

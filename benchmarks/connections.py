"""Many connections: one server process holding N connections that heartbeat.

The load generator (another process) opens N connections, each sending a Heartbeat every
``interval`` seconds at a random phase, for ``seconds``. Reported: the server's memory per
connection (RSS growth from idle to all connected, divided by N), its GC-tracked objects per
connection (what a full collection visits) and the heartbeats' latency.
The bare echo server held in the same way shows what the transport and CPython alone cost.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from typing import Any

from .e2e import gc_objects, server_process


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def run(
    connections: int,
    seconds: float,
    interval: float,
    gc_threshold: int | None = None,
    server: str = "trio-ocpp",
) -> dict[str, Any]:
    """Hold and heartbeat ``connections`` on ``server`` (a kind of ``servers.py``);
    ``gc_threshold``: the server's generation-0 GC threshold (None: CPython's default)."""
    options = ["--gc-threshold", str(gc_threshold)] if gc_threshold else []
    with server_process(server, *options) as (port, process):
        pid = process.pid
        time.sleep(0.5)
        idle = rss_bytes(pid)
        idle_objects = gc_objects(process)
        command = [
            sys.executable, "-m", "benchmarks.loadgen", "--port", str(port),
            "--clients", str(connections), "--seconds", str(seconds),
            "--heartbeat-interval", str(interval),
        ]  # fmt: skip
        started = time.perf_counter()
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
            assert load.stdout is not None
            if json.loads(load.stdout.readline()).get("event") != "connected":
                raise RuntimeError("the load generator did not connect")
            connect_seconds = time.perf_counter() - started
            time.sleep(min(1.0, seconds / 4))  # the first heartbeats build the validators
            connected = rss_bytes(pid)
            objects = gc_objects(process)
            result = json.loads(load.stdout.readline())
        peak = max(connected, rss_bytes(pid))
    return {
        "server": server,
        "connections": connections,
        "gc_threshold": gc_threshold or gc.get_threshold()[0],
        "connect_s": connect_seconds,
        "rss_idle_mb": idle / 2**20,
        "rss_connected_mb": peak / 2**20,
        "kb_per_connection": (peak - idle) / connections / 1024,
        "objects_per_connection": (objects - idle_objects) / connections,
        "heartbeats": result["heartbeats"],
        "heartbeat_p50_ms": result["p50_ms"],
        "heartbeat_p99_ms": result["p99_ms"],
    }

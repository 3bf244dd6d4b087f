"""End to end over loopback: a server process, and the load generator in another process.

Each server (see ``servers.py``) is started, loaded by N clients sending BootNotification CALLs
one after the other (``loadgen.py``), and stopped; the servers take turns. The bare echo server
runs in the same way, so that the table shows the transport's ceiling, and with the CPU use of
both processes, which of them was the bottleneck.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from . import nodejs
from .messages import BOOT

#: The load generators: Python asyncio (``loadgen.py``), or Node's ``ws`` (``node/loadgen.js``).
LOADGENS = ("python", "node")


def _read_json(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise RuntimeError("the benchmark process ended without an answer")
    return json.loads(line)  # type: ignore[no-any-return]


@contextmanager
def server_process(kind: str, *options: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Run ``python -m benchmarks.servers KIND OPTIONS...`` (``ocpp-rpc``: its Node script);
    yields its port and process."""
    if kind == "ocpp-rpc":
        command = nodejs.command("ocpp_rpc_server.js", *options)
    else:
        command = [sys.executable, "-m", "benchmarks.servers", kind, *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield _read_json(process.stdout)["port"], process
    finally:
        process.terminate()
        process.wait(timeout=30)


def gc_objects(server: subprocess.Popen[str]) -> int:
    """The server's GC-tracked objects now (it answers SIGUSR1 on its stdout)."""
    server.send_signal(signal.SIGUSR1)
    assert server.stdout is not None
    return int(_read_json(server.stdout)["gc_objects"])


def load(port: int, *arguments: str, loadgen: str = "python") -> list[dict[str, Any]]:
    """Run the load generator (one of LOADGENS) against ``port`` to the end; its results."""
    if loadgen == "node":
        call = ["--action", BOOT.action, "--payload", json.dumps(BOOT.request)]
        command = nodejs.command("loadgen.js", "--port", str(port), *call, *arguments)
    else:
        command = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def run(
    kinds: list[str],
    clients: list[int],
    seconds: float,
    *,
    rounds: int = 1,
    profile: str | None = None,
    loadgen: str = "python",
) -> list[dict[str, Any]]:
    """One row per (server kind, client count): calls/s, latency, CPU of both processes.

    The servers take turns, ``rounds`` times over, and each row is the median round by calls/s,
    with every round's calls/s in ``round_calls_per_s`` (in turn order) for ``ratio``: a shared
    machine's speed drifts, and servers measured one after the other see about the same drift.
    Each round starts one server further along the list, so that none is always the one that
    follows a given other.
    ``profile``: a file for the cProfile statistics of trio-ocpp's server (then slower).
    Each row also has the server's CPU µs per answered call (``server_us_per_call``, every
    round's in ``round_server_us``), steadier than calls/s on a shared machine.
    """
    measured: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for turn in range(rounds):
        shift = turn % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            options = ["--profile", profile] if profile and kind == "trio-ocpp" else []
            with server_process(kind, *options) as (port, server):
                warmup = min(1.0, seconds / 3)
                results = load(
                    port, "--clients", ",".join(map(str, clients)), "--seconds", str(seconds),
                    "--warmup", str(warmup), "--server-pid", str(server.pid), loadgen=loadgen,
                )  # fmt: skip
            for result in results:
                calls = result["calls_per_s"] or float("nan")
                result["server_us_per_call"] = result["server_cpu"] / calls * 1e6
                result["loadgen_us_per_call"] = result["loadgen_cpu"] / calls * 1e6
                measured.setdefault((kind, result["clients"]), []).append(result)
    rows = []
    for (kind, _), results in measured.items():
        in_turns = [result["calls_per_s"] for result in results]
        median = sorted(results, key=lambda result: float(result["calls_per_s"]))[len(results) // 2]
        rows.append(
            {
                "server": kind,
                **median,
                "round_calls_per_s": in_turns,
                "round_server_us": [result["server_us_per_call"] for result in results],
            }
        )
    return rows


def ratio(row: dict[str, Any], other: dict[str, Any], key: str = "round_calls_per_s") -> float:
    """``row``'s calls/s (or another ``key`` of figures per round) over ``other``'s: the median
    of the ratios within each round."""
    return statistics.median(
        ours / theirs for ours, theirs in zip(row[key], other[key], strict=True)
    )

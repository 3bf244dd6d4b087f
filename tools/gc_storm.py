"""The cyclic collector under a connection storm: the example central system's classes on a
:class:`~trio_ocpp.Server` in a process of its own, recording every collection through
``gc.callbacks``, and ``python -m trio_ocpp.simulate`` connecting N 1.6 charge points at once
that boot and heartbeat. Printed: the simulator's boot and heartbeat figures (max: the highest
histogram bucket, within 5 %) and the server's collections per generation (count, total and
longest pause), in all and after the last charge point booted (the steady state).

    python tools/gc_storm.py --charge-points 10000 --seconds 60 [--collector off]

``--collector off`` runs the server with ``collector=None`` (CPython's own behaviour);
``--threshold N`` also sets generation 0's threshold to N, as an application could;
``--load loadgen`` holds the connections with ``benchmarks.loadgen`` instead, a lighter client
(no boot; its steady state is ``--seconds`` from all connected).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class Recorder:
    """Every collection: (generation, monotonic end, seconds it took, CPU seconds it took,
    objects it freed). On a shared machine the CPU time is the steadier figure."""

    def __init__(self) -> None:
        self.started = (0.0, 0.0)
        self.collections: list[tuple[int, float, float, float, int]] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        now = (time.perf_counter(), time.thread_time())
        if phase == "start":
            self.started = now
        else:
            wall, cpu = (now[0] - self.started[0]), (now[1] - self.started[1])
            self.collections.append(
                (info["generation"], time.monotonic(), wall, cpu, info["collected"])
            )


async def _serve(collector: bool, threshold: int | None) -> None:
    import trio

    from trio_ocpp import Server
    from trio_ocpp.examples.central_system import CLASSES

    logging.basicConfig(level=logging.WARNING, format="server %(relativeCreated)d ms: %(message)s")
    logging.getLogger("trio_ocpp.server.collector").setLevel(logging.DEBUG)
    if threshold:
        gc.set_threshold(threshold, 10, 10)
    recorder = Recorder()
    gc.callbacks.append(recorder)
    options: dict[str, Any] = {} if collector else {"collector": None}
    # No keep-alive pings: a client starved of CPU on a busy machine would be closed for a
    # late pong, and the connections are what is measured.
    options["charge_point_options"] = {"ping_interval": 0}
    server = Server(list(CLASSES.values()), max_handshakes=None, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, HOST, 0)
        print(json.dumps({"port": server.port}), flush=True)
        stdin = trio.wrap_file(sys.stdin)
        await stdin.readline()  # the end of the steady state: the garbage held, then
        frozen, tracked = gc.get_freeze_count(), len(gc.get_objects())
        gc.unfreeze()
        started = time.perf_counter()
        garbage = gc.collect()
        took = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "frozen": frozen,
                    "tracked": tracked,
                    "garbage": garbage,
                    "full_collection_ms": round(took * 1000, 1),
                    "connections": len(server.charge_points),
                }
            ),
            flush=True,
        )
        await stdin.read()  # until the harness closes it
        print(json.dumps({"collections": recorder.collections}), flush=True)
        nursery.cancel_scope.cancel()


def _pauses(collections: list[list[Any]], since: float, until: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for generation in (0, 1, 2):
        chosen = [c for c in collections if c[0] == generation and since <= c[1] < until]
        wall, cpu = [c[2] for c in chosen], [c[3] for c in chosen]
        figures[f"gen{generation}"] = {
            "count": len(chosen),
            "collected": sum(c[4] for c in chosen),
            "total_ms": round(sum(wall) * 1000, 1),
            "max_ms": round(max(wall, default=0) * 1000, 1),
            "cpu_total_ms": round(sum(cpu) * 1000, 1),
            "cpu_max_ms": round(max(cpu, default=0) * 1000, 1),
        }
    return figures


def _max_ms(histogram: dict[str, int]) -> float | None:
    if not histogram:
        return None
    return round(1e-6 * math.exp((max(map(int, histogram)) + 1) * math.log(1.05)) * 1000, 1)


def _probe(server: subprocess.Popen[str]) -> dict[str, Any]:
    """The server's objects at the end of the steady state, and the garbage among them."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("probe\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())  # type: ignore[no-any-return]


def _simulate(args: argparse.Namespace, port: int, server: subprocess.Popen[str]) -> Any:
    """The simulator's storm: (steady state from, to, figures)."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "report.json"
        simulator = [
            sys.executable, "-m", "trio_ocpp.simulate", "--url", f"ws://{HOST}:{port}",
            "--charge-points", str(args.charge_points), "--connectors", "1",
            "--transactions-per-hour", "0", "--heartbeat-interval", str(args.heartbeat),
            "--duration", str(args.seconds), "--quiet", "--json", str(out),
        ]  # fmt: skip
        began = time.monotonic()
        with subprocess.Popen(simulator, stdout=subprocess.DEVNULL) as simulation:
            time.sleep(max(0, began + args.seconds - 2 - time.monotonic()))
            held = _probe(server)
        if simulation.returncode:
            raise SystemExit(f"the simulator failed: {simulation.returncode}")
        report = json.loads(out.read_text())
    actions = {item["action"]: item for item in report["actions"]}
    booted = report["all_booted_after"]
    figures = {
        "all_booted_s": booted,
        "boot_p99_ms": actions["BootNotification"]["latency_ms"]["p99"],
        "heartbeat_p99_ms": actions["Heartbeat"]["latency_ms"]["p99"],
        "heartbeat_max_ms": _max_ms(actions["Heartbeat"]["histogram"]),
        "heartbeats": actions["Heartbeat"]["count"],
        "unexpected": report["unexpected"],
        "at_end_of_steady_state": held,
    }
    steady = began + (booted if booted is not None else args.seconds)
    return steady, began + args.seconds - 2, figures


def _hold(args: argparse.Namespace, port: int, server: subprocess.Popen[str]) -> Any:
    """``benchmarks.loadgen`` (lighter than the simulator): connects all, then heartbeats for
    ``--seconds``, the steady state; (from, to, figures)."""
    command = [
        sys.executable, "-m", "benchmarks.loadgen", "--port", str(port),
        "--clients", str(args.charge_points), "--seconds", str(args.seconds),
        "--heartbeat-interval", str(args.heartbeat),
    ]  # fmt: skip
    began = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
        assert load.stdout is not None
        assert json.loads(load.stdout.readline())["event"] == "connected"
        steady = time.monotonic()
        time.sleep(max(0, steady + args.seconds - 2 - time.monotonic()))
        held = _probe(server)
        result = json.loads(load.stdout.readline())
    figures = {
        "all_connected_s": steady - began,
        "heartbeat_p99_ms": result["p99_ms"],
        "heartbeats": result["heartbeats"],
        "at_end_of_steady_state": held,
    }
    return steady, steady + args.seconds - 2, figures


def run(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "serve", "--collector", args.collector]
    if args.threshold:
        command += ["--threshold", str(args.threshold)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None
    try:
        port = json.loads(server.stdout.readline())["port"]
        load = _hold if args.load == "loadgen" else _simulate
        steady, end, figures = load(args, port, server)
        server.stdin.close()
        collections = json.loads(server.stdout.readline())["collections"]
    finally:
        server.wait(timeout=60)
    if args.raw:
        Path(args.raw).write_text(json.dumps({"steady": [steady, end], "collections": collections}))
    return {
        "collector": args.collector,
        "threshold": args.threshold,
        "load": args.load,
        "charge_points": args.charge_points,
        **figures,
        "all": _pauses(collections, 0, math.inf),
        "steady": _pauses(collections, steady, end),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="storm", choices=("storm", "serve"))
    parser.add_argument("--charge-points", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--heartbeat", type=float, default=10)
    parser.add_argument("--collector", choices=("on", "off"), default="on")
    parser.add_argument("--threshold", type=int)
    parser.add_argument("--load", choices=("simulate", "loadgen"), default="simulate")
    parser.add_argument("--raw", metavar="FILE", help="write every collection to FILE (JSON)")
    args = parser.parse_args()
    if args.mode == "serve":
        import trio

        trio.run(_serve, args.collector == "on", args.threshold)
    else:
        print(json.dumps(run(args), indent=1))


if __name__ == "__main__":
    main()

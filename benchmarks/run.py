"""Run the benchmarks, print their tables and write them as JSON.

    python -m benchmarks            # everything: about 6 minutes on 2 cores
    python -m benchmarks --quick    # a smoke run in under a minute (small counts, short batches)

Sections (``--sections``, comma-separated): ``validation`` (µs per payload per engine),
``routing`` (a whole inbound CALL and a whole call() in process), ``e2e`` (servers on loopback
against a load generator process), ``connections`` (5,000 heartbeating connections), ``cluster``
(2 workers and Redis: benchmarks/cluster.py; skipped without redis-server and the redis extra),
``storm`` (simulated charge points connect at once: benchmarks/storm.py).
When the ``ocpp`` package is installed (``pip install .[bench]``), routing and e2e run it too,
and each of our figures is shown as a ratio to it. Results go to ``benchmarks/results/``
(latest.json and a dated copy).
``cpu`` (the servers' CPU µs per answered call: benchmarks/cpu.py) and ``storm`` run ocpp-rpc
(Node) too when ``node`` and its npm package are there (``npm install --prefix benchmarks/node``);
otherwise they say it was skipped. ``--sections cpu,storm`` is the comparison with it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import connections, cpu, e2e, routing, storm, timing, validation
from .report import RESULTS, table

SECTIONS = ("validation", "routing", "e2e", "cpu", "connections", "cluster", "storm")
#: A generation-0 GC threshold that keeps full collections rare with thousands of connections.
TUNED_GC_THRESHOLD = 20_000
#: GC-tracked objects per idle connection with trio-websocket, measured before our transport.
BASELINE_OBJECTS = 155


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e6


def show_validation(rows: list[dict[str, Any]]) -> str:
    return table(
        "Validation: µs per payload (received request, LENIENT formats)",
        ["message", "jsonschema-rs µs", "jsonschema µs", "payloads/s (rs)", "speedup"],
        [
            [
                r["message"],
                _us(r.get("jsonschema-rs_s")),
                _us(r["jsonschema_s"]),
                1 / r["jsonschema-rs_s"] if "jsonschema-rs_s" in r else None,
                r.get("speedup"),
            ]
            for r in rows
        ],
    )


def show_routing(rows: list[dict[str, Any]]) -> str:
    return table(
        "Routing in process: µs per message, validation both ways",
        ["message", "path", "trio-ocpp µs", "msgs/s", "ocpp µs", "ocpp+threads µs", "ratio"],
        [
            [
                r["message"],
                r["direction"],
                _us(r["trio_ocpp_s"]),
                1 / r["trio_ocpp_s"],
                _us(r.get("ocpp_threads_off_s")),
                _us(r.get("ocpp_default_s")),
                r.get("ratio_vs_threads_off"),
            ]
            for r in rows
        ],
    )


#: What trio-ocpp's e2e rows are compared with: the bare echo on our transport (the ceiling),
#: the bare echo on trio-websocket (the transport we had), and the ocpp package.
E2E_OTHERS = ("echo", "echo-trio-websocket", "ocpp")
#: trio-ocpp with a no-op observer, and with metrics: compared with trio-ocpp (their cost).
COSTED = ("trio-ocpp-observed", "trio-ocpp-metrics")


def e2e_ratios(rows: list[dict[str, Any]]) -> None:
    """Add to trio-ocpp's rows its ratio to each of E2E_OTHERS, per N."""
    by = {(r["server"], r["clients"]): r for r in rows}
    for r in rows:
        if r["server"] == "trio-ocpp":
            for other in E2E_OTHERS:
                if (other, r["clients"]) in by:
                    r[f"vs_{other}"] = e2e.ratio(r, by[other, r["clients"]])
        elif r["server"] in COSTED and ("trio-ocpp", r["clients"]) in by:
            r["vs_trio-ocpp"] = e2e.ratio(r, by["trio-ocpp", r["clients"]])


def show_e2e(rows: list[dict[str, Any]]) -> str:
    return table(
        "End to end on loopback: BootNotification CALLs, N clients one CALL at a time each"
        " (the median of the servers' turns; ratios: the median of each round's)",
        ["server", "N", "calls/s", "p50 ms", "p99 ms", "server CPU", "loadgen CPU", "vs echo",
         "vs trio-websocket echo", "vs ocpp", "vs trio-ocpp"],
        [
            [r["server"], r["clients"], r["calls_per_s"], r["p50_ms"], r["p99_ms"],
             r["server_cpu"], r["loadgen_cpu"], r.get("vs_echo"),
             r.get("vs_echo-trio-websocket"), r.get("vs_ocpp"), r.get("vs_trio-ocpp")]
            for r in rows
        ],
    )  # fmt: skip


def show_connections(rows: list[dict[str, Any]]) -> str:
    return table(
        "Connections held by one server process, each heartbeating",
        ["server", "connections", "GC gen-0 threshold", "KB/connection", "objects/connection",
         "RSS MB", "heartbeats", "p50 ms", "p99 ms"],
        [
            [r["server"], r["connections"], r["gc_threshold"], r["kb_per_connection"],
             r["objects_per_connection"], r["rss_connected_mb"], r["heartbeats"],
             r["heartbeat_p50_ms"], r["heartbeat_p99_ms"]]
            for r in rows
        ],
    )  # fmt: skip


def targets(results: dict[str, Any]) -> list[list[Any]]:
    """The issues' targets: (target, measured, met) for those this run measured."""
    at_least: list[tuple[str, float, float]] = []  # measured >= bar
    at_most: list[tuple[str, float, float]] = []  # measured <= bar
    for r in results.get("validation", []):
        if r["message"] in ("1.6 MeterValues", "2.0.1 TransactionEvent") and "speedup" in r:
            at_least.append((f"validation {r['message']} >= 50x jsonschema", r["speedup"], 50))
    for r in results.get("routing", []):
        targeted = r["message"] in ("1.6 BootNotification", "1.6 MeterValues")
        if targeted and r["direction"] == "inbound CALL" and "ratio_vs_threads_off" in r:
            at_least.append((f"routing {r['message']} >= 10x ocpp", r["ratio_vs_threads_off"], 10))
    e2e_rows = {(r["server"], r["clients"]): r for r in results.get("e2e", [])}
    ours = e2e_rows.get(("trio-ocpp", 50), {})
    for other, bar in (("echo-trio-websocket", 1.3), ("echo", 0.7), ("ocpp", 5)):
        if f"vs_{other}" in ours:
            at_least.append((f"e2e 50 clients >= {bar}x {other}", ours[f"vs_{other}"], bar))
    for kind, what, bar in (
        ("trio-ocpp-observed", "a no-op observer", 0.97),
        ("trio-ocpp-metrics", "metrics on", 0.95),
    ):
        costed = e2e_rows.get((kind, 50), {})
        if "vs_trio-ocpp" in costed:
            at_least.append((f"e2e 50 clients, {what} >= {bar}x none", costed["vs_trio-ocpp"], bar))
    for r in results.get("cpu", {}).get("ratios", []):
        name = f"CPU per call: {r['ratio']} {r['sense']} {r['bar']}"
        (at_most if r["sense"] == "<=" else at_least).append((name, r["measured"], r["bar"]))
    storms = {r["server"]: r for r in results.get("storm", {}).get("rows", []) if not r["tls"]}
    ours, theirs = storms.get("trio-ocpp"), storms.get("ocpp-rpc")
    if ours and theirs and None not in (ours["all_booted_s"], theirs["all_booted_s"]):
        at_most.append(
            ("storm: all booted s <= ocpp-rpc's", ours["all_booted_s"], theirs["all_booted_s"])
        )
        if None not in (ours["heartbeat_p99_ms"], theirs["heartbeat_p99_ms"]):
            name = "storm: heartbeat p99 ms <= 2x ocpp-rpc's"
            at_most.append((name, ours["heartbeat_p99_ms"], 2 * theirs["heartbeat_p99_ms"]))
            at_most.append(("storm: heartbeat max ms <= 50", ours["heartbeat_max_ms"], 50))
    single, echo = e2e_rows.get(("trio-ocpp", 1)), e2e_rows.get(("echo-trio-websocket", 1))
    if single and echo:
        name = "e2e N=1 p50 ms <= the trio-websocket echo's"
        at_most.append((name, single["p50_ms"], echo["p50_ms"]))
    for r in results.get("connections", []):
        if r["server"] == "trio-ocpp" and r["gc_threshold"] == gc.get_threshold()[0]:
            n = r["connections"]
            at_most.append((f"{n} connections: KB/connection <= 20", r["kb_per_connection"], 20))
            name = f"{n} connections: objects/connection <= half of {BASELINE_OBJECTS}"
            at_most.append((name, r["objects_per_connection"], BASELINE_OBJECTS / 2))
    return [[name, value, "yes" if value >= bar else "MISSED"] for name, value, bar in at_least] + [
        [name, value, "yes" if value <= bar else "MISSED"] for name, value, bar in at_most
    ]


def show_cluster(results: dict[str, Any]) -> str:
    if "skipped" in results:
        return f"Cluster: skipped ({results['skipped']})"
    from . import cluster

    return cluster.show(results)


PACKAGES = (
    "trio-ocpp",
    "trio",
    "websockets",
    "trio-websocket",
    "jsonschema",
    "jsonschema-rs",
    "valkey-glide",
    "ocpp",
)


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def profile_summary(path: str, count: int = 25) -> str:
    """The top functions by own time of a cProfile file."""
    with tempfile.TemporaryFile("w+") as out:
        pstats.Stats(path, stream=out).sort_stats("tottime").print_stats(count)
        out.seek(0)
        return out.read()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts, short batches: a smoke run (no verdicts on the targets)",
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated ({','.join(SECTIONS)})"
    )
    parser.add_argument("--connections", type=int, help="for the connections section")
    parser.add_argument("--storm-charge-points", type=int, help="for the storm (10,000)")
    parser.add_argument(
        "--storm-seconds", type=float, default=60.0, help="each storm's length (60)"
    )
    parser.add_argument(
        "--storm-processes", type=int, default=2, help="load processes of a storm (2)"
    )
    parser.add_argument(
        "--storm-load",
        choices=("auto", *storm.LOADS),
        default="auto",
        help="the storm's charge points: the simulator's or Node's (auto: Node's when there)",
    )
    parser.add_argument("--profile", action="store_true", help="profile trio-ocpp's e2e server")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="folder for the JSON (benchmarks/results)"
    )
    args = parser.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    quick = args.quick
    timing.configure(quick=quick)
    logging.getLogger("ocpp").setLevel(logging.CRITICAL)  # it logs each CALL it answers
    with_ocpp = importlib.util.find_spec("ocpp") is not None

    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "versions": versions(),
    }
    started = time.perf_counter()
    shown: list[str] = []

    def section(name: str, run: Callable[[], Any], show: Callable[[Any], str]) -> None:
        if name in sections:
            results[name] = run()
            shown.append(show(results[name]))
            print(shown[-1] + "\n", flush=True)

    section("validation", validation.run, show_validation)
    section("routing", lambda: routing.run(with_ocpp=with_ocpp), show_routing)

    def run_e2e() -> list[dict[str, Any]]:
        kinds = ["echo", "echo-trio-websocket", "trio-ocpp", "trio-ocpp-observed"]
        if importlib.util.find_spec("prometheus_client"):  # the metrics extra: their cost
            kinds.append("trio-ocpp-metrics")
        kinds += ["ocpp"] if with_ocpp else []
        clients, seconds, rounds = ([1, 50], 0.3, 1) if quick else ([1, 50, 500], 2.0, 5)
        profile = str(args.output / "e2e-server.prof") if args.profile else None
        rows = e2e.run(kinds, clients, seconds, rounds=rounds, profile=profile)
        e2e_ratios(rows)
        if profile:
            print(profile_summary(profile))
        return rows

    section("e2e", run_e2e, show_e2e)

    def run_cpu() -> dict[str, Any]:
        if quick:  # the e2e section has run the others
            return cpu.run(["echo", "trio-ocpp"], 0.3, 1)
        kinds = ["echo", "echo-trio-websocket", "trio-ocpp", "trio-ocpp-observed"]
        kinds += ["trio-ocpp-metrics", *(["ocpp"] if with_ocpp else [])]
        return cpu.run(kinds, 3.0, 5)

    section("cpu", run_cpu, cpu.show)

    def run_connections() -> list[dict[str, Any]]:
        count = args.connections or (100 if quick else 5000)
        seconds, interval = (1.5, 0.5) if quick else (30.0, 10.0)
        runs = [("trio-ocpp", None)]
        if not quick:  # the transports alone, and trio-ocpp with fewer full collections
            runs = [
                ("echo", None),
                ("echo-trio-websocket", None),
                *runs,
                ("trio-ocpp", TUNED_GC_THRESHOLD),
            ]
        return [connections.run(count, seconds, interval, gc, kind) for kind, gc in runs]

    section("connections", run_connections, show_connections)

    def run_cluster() -> dict[str, Any]:
        if importlib.util.find_spec("glide") is None or shutil.which("redis-server") is None:
            return {"skipped": 'needs redis-server and pip install ".[redis]"'}
        from . import cluster

        return cluster.run(*((50, 200, 10, 1) if quick else (1000, 3000, 50, 5)))

    section("cluster", run_cluster, show_cluster)

    def run_storm() -> dict[str, Any]:
        if quick:  # the ocpp package's storm server is tested in tests/simulate
            count, kinds = args.storm_charge_points or 50, ["trio-ocpp", "ocpp-rpc"]
            return storm.run(count, 1.0, 0.3, kinds, processes=1, load=args.storm_load)
        kinds = ["trio-ocpp", *(["ocpp"] if with_ocpp else []), "ocpp-rpc"]
        return storm.run(
            args.storm_charge_points or 10_000,
            args.storm_seconds,
            10.0,
            kinds,
            processes=args.storm_processes,
            load=args.storm_load,
        )

    section("storm", run_storm, storm.show)

    # Quick sizes say nothing about the targets: a smoke run gives no verdicts.
    results["targets"] = [] if quick else targets(results)
    results["seconds"] = time.perf_counter() - started
    if results["targets"]:
        print(table("Targets", ["target", "measured", "met"], results["targets"]))
    args.output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    stamp = results["started"].replace(":", "").replace("+0000", "Z")
    for name in ("latest.json", f"{stamp}{'-quick' if quick else ''}.json"):
        (args.output / name).write_text(text)
    print(f"\n{results['seconds']:.0f} s; written to {args.output / 'latest.json'}")
    return results

"""Server CPU per answered call: each server (``servers.py``, and ocpp-rpc's Node server when
``node`` and its npm package are there) loaded by 50 clients sending BootNotification CALLs one
after the other, the servers taking turns round after round. The figure is the server process's
user + system CPU over the calls it answered: on a shared machine it drifts far less than
calls/s. Ratios are taken within each round (the median of the rounds'), and checked against
the targets: trio-ocpp at most 1.15x our transport's bare echo, and at least 0.85x as efficient
as ocpp-rpc (ocpp-rpc's µs over ours); with an observer, and with metrics, at most 3% and 5%
more than without.

The load generator is the cheaper per call of the two (Python asyncio, Node ``ws``), measured
first against the echo server, so that it is not the bottleneck.

A server's µs per call also depends on how the exchange settles with the load: in some rounds
both sides batch less, and both spend more per call (the load generator's column shows it).
On this 2-core machine a round of the same server varied by 20%, more than an observer costs,
so the full run takes five rounds and their median ratio: three left a cost ratio at the mercy
of one such round. ``python -m benchmarks.instructions --socket`` counts the same costs in
instructions, without that noise.
"""

from __future__ import annotations

import statistics
from typing import Any

from . import e2e, nodejs
from .report import table

CLIENTS = 50
#: The targets: (numerator's server, denominator's server, the bar, "<=" or ">="). Observing
#: costs: an observer that listens to everything (and does nothing) at most 3% of a call's
#: CPU, Prometheus metrics at most 5%.
TARGETS = (
    ("trio-ocpp", "echo", 1.15, "<="),
    ("ocpp-rpc", "trio-ocpp", 0.85, ">="),
    ("trio-ocpp-observed", "trio-ocpp", 1.03, "<="),
    ("trio-ocpp-metrics", "trio-ocpp", 1.05, "<="),
)


def choose_loadgen(seconds: float, rounds: int) -> dict[str, Any]:
    """The load generator costing less CPU per call against the echo server (Node's when it
    is there and cheaper), with each one's µs per call, the best of ``rounds`` turns."""
    if nodejs.missing():
        return {"loadgen": "python", "us_per_call": {}}
    costs: dict[str, list[float]] = {name: [] for name in e2e.LOADGENS}
    for _ in range(rounds):
        for name in e2e.LOADGENS:
            with e2e.server_process("echo") as (port, server):
                (result,) = e2e.load(
                    port, "--clients", str(CLIENTS), "--seconds", str(seconds),
                    "--warmup", str(min(1.0, seconds / 3)), "--server-pid", str(server.pid),
                    loadgen=name,
                )  # fmt: skip
            costs[name].append(result["loadgen_cpu"] / result["calls_per_s"] * 1e6)
    best = {name: min(values) for name, values in costs.items()}
    return {"loadgen": min(best, key=best.__getitem__), "us_per_call": best}


def run(kinds: list[str], seconds: float, rounds: int) -> dict[str, Any]:
    """The rows (one per server) and the ratios, with the load generator chosen and why."""
    skipped = nodejs.missing()
    if skipped is None:
        kinds = [*kinds, "ocpp-rpc"]
    chosen = choose_loadgen(seconds, min(rounds, 2))
    rows = e2e.run(kinds, [CLIENTS], seconds, rounds=rounds, loadgen=chosen["loadgen"])
    for row in rows:
        row["median_us"] = statistics.median(row["round_server_us"])
    by = {row["server"]: row for row in rows}
    ratios = [
        {
            "ratio": f"{top} µs / {bottom} µs",
            "measured": e2e.ratio(by[top], by[bottom], "round_server_us"),
            "sense": sense,
            "bar": bar,
        }
        for top, bottom, bar, sense in TARGETS
        if top in by and bottom in by
    ]
    return {
        "rows": rows,
        "ratios": ratios,
        "loadgen": chosen,
        "rounds": rounds,
        "ocpp_rpc_skipped": skipped,
    }


def show(results: dict[str, Any]) -> str:
    rows = results["rows"]
    ours = next((r for r in rows if r["server"] == "trio-ocpp"), None)
    lines = [
        table(
            f"Server CPU per answered call: {CLIENTS} clients, sequential BootNotification CALLs,"
            f" servers taking turns {results['rounds']}x (median and range of the rounds)",
            ["server", "µs CPU/call", "range µs", "calls/s", "vs trio-ocpp µs", "loadgen µs/call"],
            [
                [
                    r["server"],
                    r["median_us"],
                    f"{min(r['round_server_us']):.0f}-{max(r['round_server_us']):.0f}",
                    r["calls_per_s"],
                    e2e.ratio(r, ours, "round_server_us") if ours else None,
                    r["loadgen_us_per_call"],
                ]
                for r in rows
            ],
        ),
        table(
            "Ratios of server µs per call (within each round, their median) and their targets",
            ["ratio", "measured", "target"],
            [[r["ratio"], r["measured"], f"{r['sense']} {r['bar']}"] for r in results["ratios"]],
        ),
    ]
    costs = results["loadgen"]["us_per_call"]
    lines.append(
        f"load generator: {results['loadgen']['loadgen']}"
        + (
            " (its CPU µs per call against the echo: "
            + ", ".join(f"{name} {us:.1f}" for name, us in costs.items())
            + ")"
            if costs
            else ""
        )
    )
    if results["ocpp_rpc_skipped"]:
        lines.append(f"ocpp-rpc skipped: {results['ocpp_rpc_skipped']}")
    return "\n".join(lines)

"""``python -m trio_ocpp.simulate``: run a fleet of simulated charge points against a central
system, with a live view, and end with a report (exit status 1 on any unexpected error)."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

from .._transport.tls import client_ssl_context
from . import _live as live
from . import _report as report
from ._fleet import BEHAVIOUR_FIELDS, Fleet, groups_from, load
from ._station import CLASSES
from ._stats import FleetStats


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trio_ocpp.simulate",
        description="Run a fleet of simulated charge points against a central system.",
    )
    p.add_argument("--url", help="the central system's endpoint (ws://127.0.0.1:9000)")
    p.add_argument("--config", metavar="FILE", help="a fleet file (TOML); options override it")
    fleet = p.add_argument_group("fleet")
    fleet.add_argument("--charge-points", type=int, help="how many (10)")
    fleet.add_argument("--version", choices=list(CLASSES), help="OCPP version (1.6)")
    fleet.add_argument("--identity", help="identity pattern, {n} numbers them (SIM-{n:05d})")
    fleet.add_argument("--password", help="Basic auth password pattern ({identity}, {n})")
    fleet.add_argument("--connectors", type=int, help="connectors per charge point (2)")
    fleet.add_argument(
        "--arrival-rate", type=float, help="charge points started per second (0: all at once)"
    )
    fleet.add_argument("--duration", type=float, help="seconds to run (60; 0: until Ctrl-C)")
    fleet.add_argument("--seed", type=int, help="the same seed, the same run (0)")
    fleet.add_argument("--processes", type=int, default=1, help="share the fleet among N")
    behaviour = p.add_argument_group("behaviour (per connector)")
    behaviour.add_argument("--transactions-per-hour", type=float, help="while idle (30)")
    behaviour.add_argument(
        "--first-transaction-within", type=float, help="seconds after the first boot (20)"
    )
    behaviour.add_argument(
        "--transaction-duration",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="seconds (30 120)",
    )
    behaviour.add_argument(
        "--power-kw",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="transaction power (3.7 22)",
    )
    behaviour.add_argument("--meter-interval", type=float, help="seconds (10)")
    behaviour.add_argument("--heartbeat-interval", type=float, help="overrides the boot's")
    out = p.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no live view")
    out.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    out.add_argument("--log-level", default="ERROR", help="logging level (ERROR)")
    security = p.add_argument_group("connections")
    security.add_argument("--cafile", help="verify a wss:// central system against these CAs")
    security.add_argument("--certfile", help="client certificate chain, PEM (profile 3)")
    security.add_argument("--keyfile", help="its private key, if not in certfile")
    security.add_argument("--retry-wait-minimum", type=float, default=10, help="seconds (10)")
    security.add_argument("--retry-random-range", type=float, default=10, help="seconds (10)")
    p.add_argument("--shard", help=argparse.SUPPRESS)  # i/N: a child of --processes
    return p


#: What a fleet file may set at its top level (and the command line overrides).
SETTINGS = {
    "url",
    "charge_points",
    "version",
    "identity",
    "password",
    "connectors",
    "arrival_rate",
    "duration",
    "seed",
    *BEHAVIOUR_FIELDS,
}


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The fleet file's settings with the command line's on top."""
    settings = load(args.config) if args.config else {}
    unknown = set(settings) - SETTINGS - {"group"}
    if unknown:
        raise ValueError(f"unknown fleet settings: {', '.join(sorted(unknown))}")
    given = {k: v for k, v in vars(args).items() if k in SETTINGS and v is not None}
    return {**settings, **given}


def fleet_of(args: argparse.Namespace) -> Fleet:
    settings = settings_of(args)
    context = None
    if args.cafile or args.certfile:
        context = client_ssl_context(
            cafile=args.cafile, certfile=args.certfile, keyfile=args.keyfile
        )
    return Fleet(
        url=settings.get("url", "ws://127.0.0.1:9000"),
        groups=groups_from(settings),
        arrival_rate=settings.get("arrival_rate", 0.0),
        duration=settings.get("duration", 60.0),
        seed=settings.get("seed", 0),
        ssl_context=context,
        client_options={
            "retry_backoff_wait_minimum": args.retry_wait_minimum,
            "retry_backoff_random_range": args.retry_random_range,
        },
    )


async def run_one(fleet: Fleet, stats: FleetStats, shard: int, shards: int, view: bool) -> None:
    """Run this process's share until its duration ends or a signal: then the report."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        if view:
            nursery.start_soon(live.show, stats, fleet.size)
        await fleet.run(stats, shard, shards)
        nursery.cancel_scope.cancel()


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()


async def run_shards(argv: list[str], shards: int, directory: Path) -> FleetStats:
    """Run the fleet in ``shards`` child processes; their stats, added up."""
    async with trio.open_nursery() as nursery:
        for shard in range(shards):
            command = [
                sys.executable,
                "-m",
                "trio_ocpp.simulate",
                *argv,
                "--quiet",
                "--processes",
                "1",
                "--shard",
                f"{shard}/{shards}",
                "--json",
                str(directory / f"{shard}.json"),
            ]
            nursery.start_soon(functools.partial(trio.run_process, command, check=False))
    # Each measured its storm from its own start: they started together, near enough.
    first, *others = (
        FleetStats.from_json(json.loads((directory / f"{shard}.json").read_text()))
        for shard in range(shards)
    )
    for other in others:
        first.merge(other)
    stats = first
    return stats


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    args = p.parse_args(argv)
    try:
        fleet = fleet_of(args)
    except (OSError, ValueError, TypeError) as exc:
        p.error(str(exc))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.processes > 1:
        with tempfile.TemporaryDirectory() as directory:
            stats = trio.run(run_shards, argv, args.processes, Path(directory))
    else:
        shard, shards = map(int, (args.shard or "0/1").split("/"))
        stats = FleetStats()
        view = not args.quiet and sys.stdout.isatty()
        trio.run(run_one, fleet, stats, shard, shards, view)
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_json(stats, fleet.size), indent=1))
    if not args.shard:
        print(report.text(stats, fleet.size))
    return 1 if stats.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())

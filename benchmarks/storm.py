"""Connection storm: N simulated charge points (``trio_ocpp.simulate``) connect at once and
boot, then heartbeat; against our example central system and the ``ocpp`` package's, each in a
process of its own. Reported: the time until all were connected and booted, boot p99, the
heartbeats' p99 in the steady state, and the server's CPU seconds and RSS.

``python -m benchmarks.storm serve-ocpp`` runs the ``ocpp`` package's central system (what the
simulator sends, all three versions; prints ``{"port": N}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .connections import rss_bytes
from .report import table

HOST = "127.0.0.1"


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()


def ocpp_central_system_classes() -> dict[str, type[Any]]:
    """The ``ocpp`` package's ChargePoint per subprotocol, answering what the simulator sends."""
    from ocpp import v16, v21, v201  # type: ignore[import-untyped]
    from ocpp.routing import on  # type: ignore[import-untyped]

    accepted = {"status": "Accepted"}

    # Handlers are named on_*: a method named like one of ChargePoint's (start) replaces it.
    class CS16(v16.ChargePoint):  # type: ignore[misc]
        transactions = 0

        @on("BootNotification")
        def on_boot(self, **kwargs: Any) -> Any:
            return v16.call_result.BootNotification(_now(), 60, "Accepted")

        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return v16.call_result.Heartbeat(_now())

        @on("StatusNotification")
        def on_status(self, **kwargs: Any) -> Any:
            return v16.call_result.StatusNotification()

        @on("Authorize")
        def on_authorize(self, **kwargs: Any) -> Any:
            return v16.call_result.Authorize(accepted)

        @on("StartTransaction")
        def on_start(self, **kwargs: Any) -> Any:
            CS16.transactions += 1
            return v16.call_result.StartTransaction(CS16.transactions, accepted)

        @on("MeterValues")
        def on_meter(self, **kwargs: Any) -> Any:
            return v16.call_result.MeterValues()

        @on("StopTransaction")
        def on_stop(self, **kwargs: Any) -> Any:
            return v16.call_result.StopTransaction()

    def cs2x(package: Any) -> type[Any]:
        results = package.call_result

        class CS2x(package.ChargePoint):  # type: ignore[misc,name-defined]
            @on("BootNotification")
            def on_boot(self, **kwargs: Any) -> Any:
                return results.BootNotification(_now(), 60, "Accepted")

            @on("Heartbeat")
            def on_heartbeat(self) -> Any:
                return results.Heartbeat(_now())

            @on("StatusNotification")
            def on_status(self, **kwargs: Any) -> Any:
                return results.StatusNotification()

            @on("Authorize")
            def on_authorize(self, **kwargs: Any) -> Any:
                return results.Authorize(accepted)

            @on("TransactionEvent")
            def on_transaction(self, **kwargs: Any) -> Any:
                return results.TransactionEvent()

        return CS2x

    return {"ocpp1.6": CS16, "ocpp2.0.1": cs2x(v201), "ocpp2.1": cs2x(v21)}


async def serve_ocpp() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    classes = ocpp_central_system_classes()

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None and connection.subprotocol is not None
        cp = classes[connection.subprotocol](connection.request.path.strip("/"), connection)
        with contextlib.suppress(Exception):  # the charge point went away: the package raises
            await cp.start()

    async with serve(handler, HOST, 0, subprotocols=list(classes)) as server:  # type: ignore[arg-type]
        print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
        await server.serve_forever()


def _server(kind: str) -> subprocess.Popen[str]:
    """Our example central system, or the ``ocpp`` package's; prints its port first."""
    if kind == "ocpp":
        command = [sys.executable, "-m", "benchmarks.storm", "serve-ocpp"]
    else:
        command = [sys.executable, "-m", "benchmarks.storm", "serve-trio-ocpp"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


async def serve_trio_ocpp() -> None:
    import trio

    from trio_ocpp import Server
    from trio_ocpp.examples.central_system import CLASSES

    server = Server(list(CLASSES.values()), max_handshakes=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, HOST, 0)
        print(json.dumps({"port": server.port}), flush=True)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def run_one(kind: str, charge_points: int, seconds: float, heartbeat: float) -> dict[str, Any]:
    """A storm of ``charge_points`` 1.6 charge points on ``kind``'s server, for ``seconds``:
    they boot, report their status and heartbeat every ``heartbeat`` s (no transactions)."""
    server = _server(kind)
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        time.sleep(0.5)
        idle_rss, cpu = rss_bytes(server.pid), _cpu_seconds(server.pid)
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "report.json"
            command = [
                sys.executable, "-m", "trio_ocpp.simulate", "--url", f"ws://{HOST}:{port}",
                "--charge-points", str(charge_points), "--connectors", "1",
                "--transactions-per-hour", "0", "--heartbeat-interval", str(heartbeat),
                "--duration", str(seconds), "--quiet", "--json", str(out),
            ]  # fmt: skip
            with subprocess.Popen(command, stdout=subprocess.DEVNULL) as simulator:
                time.sleep(seconds * 0.75)  # the steady state: all connected, heartbeating
                peak_rss = rss_bytes(server.pid)
                status = simulator.wait(timeout=seconds + 300)
            report = json.loads(out.read_text())
        cpu = _cpu_seconds(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
    actions = {item["action"]: item for item in report["actions"]}

    def p99(action: str) -> float | None:
        item = actions.get(action)
        return None if item is None else item["latency_ms"]["p99"]

    return {
        "server": kind,
        "charge_points": charge_points,
        "all_connected_s": report["all_connected_after"],
        "all_booted_s": report["all_booted_after"],
        "boot_p99_ms": p99("BootNotification"),
        "heartbeat_p99_ms": p99("Heartbeat"),
        "unexpected_errors": report["unexpected"],
        "exit_status": status,
        "server_cpu_s": cpu,
        "server_rss_mb": peak_rss / 2**20,
        "server_kb_per_charge_point": (peak_rss - idle_rss) / charge_points / 1024,
    }


def run(
    charge_points: int, seconds: float, heartbeat: float, kinds: list[str]
) -> list[dict[str, Any]]:
    return [run_one(kind, charge_points, seconds, heartbeat) for kind in kinds]


def show(rows: list[dict[str, Any]]) -> str:
    return table(
        "Connection storm: simulated 1.6 charge points connect at once, boot, heartbeat",
        ["server", "charge points", "all connected s", "all booted s", "boot p99 ms",
         "heartbeat p99 ms", "errors", "server CPU s", "server RSS MB", "KB/charge point"],
        [
            [r["server"], r["charge_points"], r["all_connected_s"], r["all_booted_s"],
             r["boot_p99_ms"], r["heartbeat_p99_ms"], r["unexpected_errors"], r["server_cpu_s"],
             r["server_rss_mb"], r["server_kb_per_charge_point"]]
            for r in rows
        ],
    )  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    if sys.argv[1:] == ["serve-ocpp"]:
        asyncio.run(serve_ocpp())
    elif sys.argv[1:] == ["serve-trio-ocpp"]:
        import trio

        trio.run(serve_trio_ocpp)
    else:
        sys.exit("usage: python -m benchmarks.storm serve-ocpp | serve-trio-ocpp")


if __name__ == "__main__":
    main()

"""Connection storm: N simulated 1.6 charge points (``trio_ocpp.simulate``) connect at once,
at most M opening handshakes in flight, boot as soon as they are open, then heartbeat; against
our example central system, the ``ocpp`` package's and ocpp-rpc's (Node, when there), each in a
process of its own, over ws:// and over wss:// with Basic auth (security profile 2; ``trustme``
makes the certificates). The load is several processes (``storm_load.py``), and the table says
how many cores it used during the storm, so that a load-bound run shows as one.

Reported: the time until all were connected and booted, boot p99, the heartbeats' p99 and max
in the steady state (sent after the last boot), the server's peak RSS and CPU.

``python -m benchmarks.storm serve-ocpp`` runs the ``ocpp`` package's central system (what the
simulator sends, all three versions; prints ``{"port": N}``), ``serve-trio-ocpp`` ours; both
take ``--tls CERT KEY`` and ``--password-prefix P`` (Basic auth: identity X, password P+X).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import nodejs
from .loadgen import cpu_seconds
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


def _password_checker(prefix: str | None) -> Any:
    """Basic auth's check: identity X, password PREFIX+X (None: no Basic auth)."""
    if prefix is None:
        return None

    async def check(identity: str, password: bytes) -> bool:
        return password == f"{prefix}{identity}".encode()

    return check


async def serve_ocpp(context: ssl.SSLContext | None, prefix: str | None) -> None:
    from websockets.asyncio.server import ServerConnection, basic_auth, serve

    classes = ocpp_central_system_classes()
    auth = {}
    if prefix is not None:
        # websockets checks the username and password; OCPP's username is the identity.
        def credentials(username: str, password: str) -> bool:
            return password == prefix + username

        auth["process_request"] = basic_auth(check_credentials=credentials)

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None and connection.subprotocol is not None
        cp = classes[connection.subprotocol](connection.request.path.strip("/"), connection)
        with contextlib.suppress(Exception):  # the charge point went away: the package raises
            await cp.start()

    async with serve(
        handler,
        HOST,
        0,
        subprotocols=list(classes),
        ssl=context,
        **auth,  # type: ignore[arg-type]
    ) as server:
        print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
        await server.serve_forever()


async def serve_trio_ocpp(context: ssl.SSLContext | None, prefix: str | None) -> None:
    import trio

    from trio_ocpp import Server
    from trio_ocpp.examples.central_system import CLASSES

    server = Server(
        list(CLASSES.values()),
        max_handshakes=None,
        ssl_context=context,
        basic_auth=_password_checker(prefix),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, HOST, 0)
        print(json.dumps({"port": server.port}), flush=True)


def certificates(directory: Path) -> tuple[str, str, str]:
    """A throwaway CA and a certificate for 127.0.0.1 (``trustme``): CA, cert and key files."""
    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert(HOST)
    files = [directory / name for name in ("ca.pem", "cert.pem", "key.pem")]
    authority.cert_pem.write_to_path(str(files[0]))
    issued.cert_chain_pems[0].write_to_path(str(files[1]))
    issued.private_key_pem.write_to_path(str(files[2]))
    return str(files[0]), str(files[1]), str(files[2])


def _server(kind: str, security: Sequence[str]) -> subprocess.Popen[str]:
    """``kind``'s central system with the ``security`` options; it prints its port first."""
    if kind == "ocpp-rpc":
        command = nodejs.command("ocpp_rpc_server.js", *security)
    else:
        command = [sys.executable, "-m", "benchmarks.storm", f"serve-{kind}", *security]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _steady(heartbeats: list[list[float]], after: float) -> dict[str, Any]:
    """p99 and max (ms) of the heartbeats sent ``after`` seconds from the start, and how many."""
    latencies = [latency for sent, latency in heartbeats if sent >= after]
    if not latencies:
        return {"steady_heartbeats": 0, "heartbeat_p99_ms": None, "heartbeat_max_ms": None}
    return {
        "steady_heartbeats": len(latencies),
        "heartbeat_p99_ms": _percentile(latencies, 0.99) * 1e3,
        "heartbeat_max_ms": max(latencies) * 1e3,
    }


#: The loads: the simulator's charge points (``storm_load.py``) or Node's (``node/storm_load.js``).
LOADS = ("simulator", "node")


def _load_command(load: str) -> list[str]:
    if load == "node":
        return nodejs.command("storm_load.js")
    return [sys.executable, "-m", "benchmarks.storm_load"]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _latest(values: list[float | None]) -> float | None:
    """When the last share got there (None if one did not)."""
    return None if None in values else max(v for v in values if v is not None)


def run_one(
    kind: str,
    charge_points: int,
    seconds: float,
    *,
    heartbeat: float,
    tls: bool,
    processes: int,
    max_handshakes: int,
    load: str = "simulator",
) -> dict[str, Any]:
    """A storm of ``charge_points`` on ``kind``'s server for ``seconds`` from its start, the load
    (one of LOADS) shared by ``processes``; ``tls``: wss:// with Basic auth."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        scheme, security, load_security = "ws", [], []
        if tls:
            cafile, certfile, keyfile = certificates(directory)
            scheme, prefix = "wss", "secret-"
            security = ["--tls", certfile, keyfile, "--password-prefix", prefix]
            load_security = ["--cafile", cafile, "--password-prefix", prefix]
        server = _server(kind, security)
        shards: list[subprocess.Popen[str]] = []
        logs = (directory / "load.log").open("w")  # what the load processes logged
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            command = [
                *_load_command(load),
                "--url", f"{scheme}://{HOST}:{port}", "--charge-points", str(charge_points),
                "--max-handshakes", str(max_handshakes), "--heartbeat-interval", str(heartbeat),
                "--duration", str(seconds), *load_security,
            ]  # fmt: skip
            shards = [
                subprocess.Popen(
                    [
                        *command,
                        "--shard",
                        f"{i}/{processes}",
                        "--json",
                        str(directory / f"{i}.json"),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=logs,
                    text=True,
                )
                for i in range(processes)
            ]
            for shard in shards:  # all ready (imported, charge points made): then the start
                assert shard.stdout is not None and shard.stdout.readline() == "ready\n"
            start_at = time.time() + 0.1
            for shard in shards:
                assert shard.stdin is not None
                shard.stdin.write(f"{start_at}\n")
                shard.stdin.close()
            # The server's CPU seconds, sampled, to take its share of the storm afterwards.
            samples: list[tuple[float, float]] = []
            while any(shard.poll() is None for shard in shards):
                samples.append((time.time() - start_at, cpu_seconds(server.pid)))
                time.sleep(0.2)
            peak_rss = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            for shard in shards:  # all ended, unless something failed on the way
                shard.kill()
                shard.wait()
            logs.close()
        logged = (directory / "load.log").read_text().splitlines()
        if any(shard.returncode for shard in shards):
            raise RuntimeError("a load process failed:\n" + "\n".join(logged[-30:]))
        reports = [json.loads((directory / f"{i}.json").read_text()) for i in range(processes)]
    booted = _latest([r["all_booted_after"] for r in reports])
    boots = [latency for r in reports for latency in r["boots"]]
    storm_end = booted if booted is not None else seconds / 2

    def server_cpu_at(t: float) -> float:
        return min(samples, key=lambda sample: abs(sample[0] - t))[1]

    in_storm = [r["cpu_at_last_boot"] - r["cpu_at_start"] for r in reports if r["cpu_at_last_boot"]]
    return {
        "server": kind,
        "tls": tls,
        "load": load,
        "charge_points": charge_points,
        "booted": len(boots),
        "all_connected_s": _latest([r["all_connected_after"] for r in reports]),
        "all_booted_s": booted,
        "boot_p99_ms": _percentile(boots, 0.99) * 1e3 if boots else None,
        **_steady([beat for r in reports for beat in r["heartbeats"]], storm_end),
        "failed_connects": sum(r["failed_connects"] for r in reports),
        "closed": sum(sum(r["closes"].values()) for r in reports),
        "close_codes": dict(sum((Counter(r["closes"]) for r in reports), Counter())),
        "lost_charge_points": sum(r["lost"] for r in reports),  # also among the errors
        "unexpected_errors": sum(r["unexpected"] for r in reports)
        + sum(r["lost"] for r in reports),
        # Errors the load processes logged (the first of them in the JSON, to look into).
        "load_errors_logged": sum(line.startswith("ERROR") for line in logged),
        "load_first_error": next((line for line in logged if line.startswith("ERROR")), None),
        "server_cpu_s": samples[-1][1] - server_cpu_at(0.0),
        "server_cores_in_storm": (server_cpu_at(storm_end) - server_cpu_at(0.0)) / storm_end,
        "load_processes": processes,
        "load_cores_in_storm": sum(in_storm) / storm_end if booted and in_storm else None,
        "load_cpu_ms_per_charge_point": sum(in_storm) / charge_points * 1e3 if booted else None,
        "server_peak_rss_mb": peak_rss,
    }


def run(
    charge_points: int,
    seconds: float,
    heartbeat: float,
    kinds: list[str],
    *,
    processes: int = 2,
    max_handshakes: int = 500,
    load: str = "auto",
) -> dict[str, Any]:
    """Every kind, plain and TLS; ocpp-rpc is left out, and said so, without Node. ``load``:
    one of LOADS, or ``auto``: Node's when it is there (the simulator costs about three times
    its CPU per charge point, and would be the bottleneck), else the simulator."""
    node_missing = nodejs.missing()
    skipped = node_missing if "ocpp-rpc" in kinds else None
    chosen = [kind for kind in kinds if kind != "ocpp-rpc" or skipped is None]
    if load == "auto":
        load = "simulator" if node_missing else "node"
    options = {
        "heartbeat": heartbeat,
        "processes": processes,
        "max_handshakes": max_handshakes,
        "load": load,
    }
    rows = [
        run_one(kind, charge_points, seconds, tls=tls, **options)
        for tls in (False, True)
        for kind in chosen
    ]
    return dict(rows=rows, ocpp_rpc_skipped=skipped, max_handshakes=max_handshakes, load=load)


def show(results: dict[str, Any]) -> str:
    rows = results["rows"]
    text = table(
        f"Connection storm: OCPP 1.6 charge points connect at once (at most"
        f" {results['max_handshakes']} handshakes in flight), boot, heartbeat; steady state:"
        " heartbeats sent after the last boot",
        ["server", "TLS+auth", "charge points", "booted", "all connected s", "all booted s",
         "boot p99 ms",
         "heartbeat p99 ms", "heartbeat max ms", "failed connects", "closed", "errors",
         "server CPU s", "server cores", "load cores", "load ms/CP", "peak RSS MB"],
        [
            [r["server"], "wss" if r["tls"] else "ws", r["charge_points"], r["booted"],
             r["all_connected_s"],
             r["all_booted_s"], r["boot_p99_ms"], r["heartbeat_p99_ms"], r["heartbeat_max_ms"],
             r["failed_connects"], r["closed"], r["unexpected_errors"], r["server_cpu_s"],
             r["server_cores_in_storm"], r["load_cores_in_storm"],
             r["load_cpu_ms_per_charge_point"], r["server_peak_rss_mb"]]
            for r in rows
        ],
    )  # fmt: skip
    text += (
        f"\nload: {results['load']}, {rows[0]['load_processes'] if rows else 0} processes;"
        " server cores, load cores: CPU used from the start until the last boot"
        " (load ms/CP: the load's CPU per charge point until then)"
    )
    for r in rows:
        if r["load_errors_logged"]:
            text += (
                f"\n{r['server']} {'wss' if r['tls'] else 'ws'}: the load logged"
                f" {r['load_errors_logged']} errors, the first: {r['load_first_error']}"
            )
    if results["ocpp_rpc_skipped"]:
        text += f"\nocpp-rpc skipped: {results['ocpp_rpc_skipped']}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.storm", description="A central system of the storm benchmark."
    )
    parser.add_argument("serve", choices=["serve-ocpp", "serve-trio-ocpp"])
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve wss://")
    parser.add_argument("--password-prefix", help="Basic auth: identity X, password PREFIX+X")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
    if args.serve == "serve-ocpp":
        asyncio.run(serve_ocpp(context, args.password_prefix))
    else:
        import trio

        trio.run(serve_trio_ocpp, context, args.password_prefix)


if __name__ == "__main__":
    main()

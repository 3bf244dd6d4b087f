"""Hostile peers against the example central system: what the server does under each attack.

    python -m benchmarks.attack                  # every class of attack, 5 s each
    python -m benchmarks.attack --seconds 2 --only surrogates,deep_nesting

``python -m trio_ocpp`` runs in a child process on loopback, with Basic auth for two identities
(GOOD, the well-behaved charge point, and EVIL, the attackers' own) and its log at WARNING, as
an operator would run it. For each class of attack in turn, attackers run for ``--seconds``
while the good charge point keeps sending BootNotification over its connection and
reconnecting every 20 calls; then everyone stops for a moment. Printed per class: whether the
server is alive, the good client's calls answered, failed and their p50/p90 latency, the
server's RSS and open descriptors before the attack and after it, and the log it wrote (bytes,
lines, tracebacks). The run ends with the server's state once every attacker has gone (up to
15 s for those the password throttle still holds), and
exits non-zero if the server died or logged a traceback. JSON: ``benchmarks/results/attack.json``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from .connections import rss_bytes
from .loadgen import masked_frame, raise_fd_limit

HOST = "127.0.0.1"
PASSWORD = "correct horse battery staple"
RESULTS = Path(__file__).parent / "results" / "attack.json"
KEY = base64.b64encode(b"0123456789abcdef").decode()
BOOT_16 = {"chargePointVendor": "V", "chargePointModel": "M"}


def auth(identity: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()


def request(target: str, subprotocol: str = "ocpp1.6", **headers: str) -> bytes:
    fields = {
        "Host": HOST,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": subprotocol,
        "Authorization": auth("EVIL"),
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode("latin-1", "surrogateescape") + b"\r\n"


class Tally:
    """What the attackers of one class sent: counted as it goes out."""

    def __init__(self) -> None:
        self.n = 0

    def add(self) -> None:
        self.n += 1


class Raw:
    """An attacker's connection: bytes out, whatever comes back read and thrown away."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream

    @classmethod
    async def open(cls, port: int, handshake: bytes | None = None) -> Raw:
        raw = cls(await trio.open_tcp_stream(HOST, port))
        if handshake is not None:
            await raw.stream.send_all(handshake)
            await raw.read()  # the HTTP answer (and maybe more)
        return raw

    async def read(self, seconds: float = 2) -> bytes:
        with trio.move_on_after(seconds):
            return await self.stream.receive_some(65536)
        return b""

    async def send(self, text: str | bytes) -> None:
        await self.stream.send_all(masked_frame(text))

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


async def upgraded(port: int, subprotocol: str = "ocpp1.6", target: str = "/EVIL") -> Raw:
    return await Raw.open(port, request(target, subprotocol))


# -- the attacks: each counts what it sends in ``sent`` ----------------------


async def bad_targets(port: int, sent: Tally) -> None:
    for target in ("//[x/CP_1", "/%ff%fe/CP", "/" + "a" * 9000, "http://[::1/x"):
        sent.add()
        raw = await Raw.open(port, request(target))
        await raw.aclose()


async def non_ascii_headers(port: int, sent: Tally) -> None:
    for name in ("Sec-WebSocket-Protocol", "Connection", "Sec-WebSocket-Extensions", "Host"):
        head = request("/EVIL").replace(f"{name}: ".encode(), f"{name}: \xff\xfe".encode())
        sent.add()
        raw = await Raw.open(port, head)
        await raw.aclose()


async def connect_reset(port: int, sent: Tally) -> None:
    sock = trio.socket.socket()
    await sock.connect((HOST, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an RST before any request
    sent.add()


async def surrogates(port: int, sent: Tally) -> None:
    raw = await upgraded(port, "ocpp2.0.1")
    frames = [
        r'[2,"\ud800","Heartbeat",{}]',
        r'[2,"a1","Heart\ud800beat",{}]',
        r'[2,"a2","Heartbeat",{"\ud800":1}]',
        r'[2,"a3","BootNotification",{"reason":"\udfff","chargingStation":{}}]',
    ]
    for text in frames:
        await raw.send(text)
        sent.add()
        await raw.read(1)
    await raw.aclose()


def _invalid_meter_values(size: int) -> str:
    sample = {"value": 1, "unit": "bogus", "measurand": "nope"}  # three errors each
    per = len(json.dumps(sample)) + 1
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "x", "sampledValue": [sample] * (size // per)}],
    }
    return json.dumps([2, "mv", "MeterValues", payload])


BIG_INVALID = _invalid_meter_values(1_000_000)


async def big_invalid_payloads(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    for _ in range(5):
        await raw.send(BIG_INVALID)
        sent.add()
        await raw.read(5)
    await raw.aclose()


async def deep_nesting(port: int, sent: Tally) -> None:
    nested: Any = {"vendorId": "x"}
    for _ in range(600):
        nested = {"vendorId": "x", "d": nested}
    text = json.dumps([2, "d1", "Heartbeat", {"customData": nested}])
    raw = await upgraded(port, "ocpp2.0.1")
    for _ in range(10):
        await raw.send(text)
        sent.add()
        await raw.read(1)
    await raw.aclose()


async def odd_identities(port: int, sent: Tally) -> None:
    targets = ["/EV%0AIL", "/EV%1B[31mIL", "/" + "E" * 15000, "/EV:IL", "/%00"]
    for target in targets:
        sent.add()
        raw = await Raw.open(port, request(target, "ocpp2.0.1"))
        await raw.aclose()


async def unanswerable(port: int, sent: Tally) -> None:
    raw = await upgraded(port, "ocpp2.1")
    frames = [f'[3,"nobody{i}",{{}}]' for i in range(50)]
    frames += [
        f'[6,"s{i}","NotifyPeriodicEventStream",{{"id":1,"pending":0,"basetime":"x"}}]'
        for i in range(50)
    ]
    frames += ["junk"] * 99 + ['[2,"hb","Heartbeat",{}]']
    for text in frames:
        await raw.send(text)
        sent.add()
    await raw.read(1)
    await raw.aclose()


async def long_action(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    await raw.send(json.dumps([2, "x", "A" * 100_000, {}]))
    sent.add()
    await raw.read(1)
    await raw.aclose()


async def duplicate_identity(port: int, sent: Tally) -> None:
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(upgraded, port, "ocpp1.6", "/EVIL")
            sent.add()


async def wrong_passwords(port: int, sent: Tally) -> None:
    sent.add()
    raw = await Raw.open(port, request("/EVIL", Authorization=auth("EVIL", "guess")))
    await raw.aclose()


async def protocol_errors(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    await raw.stream.send_all(bytes([0x81, 0x02]) + b"[]")  # unmasked
    sent.add()
    await raw.read(1)
    await raw.aclose()
    raw = await upgraded(port)
    await raw.stream.send_all(bytes([0x80, 0x81]) + b"abcd" + b"x")  # a continuation, no message
    sent.add()
    await raw.read(1)
    await raw.aclose()


ATTACKS: dict[str, tuple[Callable[[int, Tally], Awaitable[None]], int]] = {
    # name: (one round of it, attackers at once)
    "bad_targets": (bad_targets, 2),
    "non_ascii_headers": (non_ascii_headers, 2),
    "connect_reset": (connect_reset, 8),
    "surrogates": (surrogates, 2),
    "big_invalid_payloads": (big_invalid_payloads, 4),
    "deep_nesting": (deep_nesting, 2),
    "odd_identities": (odd_identities, 2),
    "unanswerable": (unanswerable, 2),
    "long_action": (long_action, 2),
    "duplicate_identity": (duplicate_identity, 2),
    "wrong_passwords": (wrong_passwords, 4),
    "protocol_errors": (protocol_errors, 2),
}


# -- the good charge point ------------------------------------------------------------------------


class Good:
    """The well-behaved charge point: boots over and over, reconnecting every 20 calls."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.failures = 0

    async def run(self) -> None:
        from trio_ocpp import connect, v16

        boot = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
        url = f"ws://{HOST}:{self.port}"
        while True:
            try:
                async with connect(url, v16.ChargePoint, identity="GOOD", basic_auth=PASSWORD,
                                   response_timeout=5, connect_timeout=5) as cp:  # fmt: skip
                    for _ in range(20):
                        started = time.perf_counter()
                        await cp.call(boot)
                        self.latencies.append(time.perf_counter() - started)
                        await trio.sleep(0.05)
            except Exception:  # a timeout, a refusal, a closed connection: all count as failed
                self.failures += 1
                await trio.sleep(0.1)

    def take(self) -> dict[str, Any]:
        got, self.latencies = sorted(self.latencies), []
        failures, self.failures = self.failures, 0

        def quantile(q: float) -> float | None:
            return got[min(len(got) - 1, int(q * len(got)))] * 1000 if got else None

        return {"answered": len(got), "failed": failures, "p50_ms": quantile(0.5),
                "p90_ms": quantile(0.9)}  # fmt: skip


# -- the run --------------------------------------------------------------------------------------


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def attack(port: int, name: str, seconds: float) -> int:
    """Run one class of attack for ``seconds``: how many hostile requests or frames went out."""
    one, attackers = ATTACKS[name]
    sent = Tally()

    async def attacker() -> None:
        while True:
            # The server hanging up on it is its answer.
            with contextlib.suppress(OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                await one(port, sent)
            await trio.sleep(0)

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for _ in range(attackers):
                nursery.start_soon(attacker)
    return sent.n


async def run(names: list[str], seconds: float, server: subprocess.Popen[bytes], port: int,
              log: Path) -> list[dict[str, Any]]:  # fmt: skip
    good = Good(port)
    rows = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(good.run)
        await trio.sleep(1)
        good.take()
        for name in names:
            before = {"rss_mb": rss_bytes(server.pid) / 2**20, "fds": open_fds(server.pid)}
            log_start = log.stat().st_size
            sent = await attack(port, name, seconds)
            during = good.take()
            await trio.sleep(1)  # the attackers are gone: the server settles
            alive = server.poll() is None
            text = log.read_bytes()[log_start:]
            row = {
                "attack": name,
                "sent": sent,
                "alive": alive,
                **during,
                "rss_mb_before": before["rss_mb"],
                "rss_mb_after": rss_bytes(server.pid) / 2**20 if alive else None,
                "fds_before": before["fds"],
                "fds_after": open_fds(server.pid) if alive else None,
                "log_kb": len(text) / 1024,
                "log_lines": text.count(b"\n"),
                "tracebacks": text.count(b"Traceback"),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not alive:
                break
        nursery.cancel_scope.cancel()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.attack", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=5, help="per class of attack (5)")
    parser.add_argument("--only", help="comma-separated classes: " + ", ".join(ATTACKS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--log", type=Path, help="keep the server's log in this file")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(ATTACKS)
    unknown = set(names) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks: {', '.join(sorted(unknown))}")
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as folder:
        passwords = Path(folder) / "passwords"
        passwords.write_text(f"GOOD:{PASSWORD}\nEVIL:{PASSWORD}\n")
        log = args.log or Path(folder) / "server.log"
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "trio_ocpp", "--host", HOST, "--port", str(port),
                   "--basic-auth", str(passwords), "--log-level", "WARNING"]  # fmt: skip
        with log.open("wb") as out:
            server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                with socket.socket() as sock:
                    if sock.connect_ex((HOST, port)) == 0:
                        break
                time.sleep(0.1)
            rows = trio.run(run, names, args.seconds, server, port, log)
            end: dict[str, Any] = {"alive": server.poll() is None}
            if end["alive"]:
                # Attackers slowed down by the password throttle may still hold a descriptor for
                # up to its longest delay (10 s): the end is measured once they are gone.
                baseline = rows[0]["fds_before"] if rows else 0
                settled = time.monotonic() + 15
                while open_fds(server.pid) > baseline and time.monotonic() < settled:
                    time.sleep(0.2)
                end.update(rss_mb=rss_bytes(server.pid) / 2**20, fds=open_fds(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(table(rows))
    print("server at the end:", json.dumps(end))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"seconds_each": args.seconds, "attacks": rows, "end": end}, indent=2)
    )
    healthy = end["alive"] and not any(row["tracebacks"] for row in rows)
    return 0 if healthy else 1


def table(rows: list[dict[str, Any]]) -> str:
    headers = ["attack", "sent", "alive", "good answered", "good failed", "p50 ms", "p90 ms",
               "RSS MB before", "after", "fds before", "after", "log KB", "log lines",
               "tracebacks"]  # fmt: skip
    keys = ["attack", "sent", "alive", "answered", "failed", "p50_ms", "p90_ms",
            "rss_mb_before", "rss_mb_after", "fds_before", "fds_after", "log_kb", "log_lines",
            "tracebacks"]  # fmt: skip

    def cell(value: Any) -> str:
        return f"{value:.1f}" if isinstance(value, float) else "" if value is None else str(value)

    cells = [[cell(row.get(k)) for k in keys] for row in rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The load generator: many OCPP-J clients in one asyncio process, each sending CALLs and timing
the answers, over a WebSocket client of its own that does as little as it can.

It runs in its own process so that it does not share a core with the server it measures, and is
written to be cheap: a minimal client frame writer and reader on asyncio protocols, no library.
Against the bare echo server the same run shows its ceiling.

    python -m benchmarks.loadgen --port 9000 --clients 1,50 --seconds 5   (a JSON line per count)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import statistics
import time
from typing import Any

from .messages import BOOT, HEARTBEAT, Message

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def raise_fd_limit() -> None:
    """As many open files as the hard limit allows (thousands of sockets)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def masked_frame(text: str) -> bytes:
    """A client text frame (FIN, opcode 1), masked as RFC 6455 requires of clients."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = bytes([0x81, 0x80 | length])
    elif length < 65536:
        header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + length.to_bytes(8, "big")
    key = os.urandom(4)
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return header + key + masked


class Client(asyncio.Protocol):
    """One WebSocket connection: the opening handshake, then text frames in both directions."""

    def __init__(self, path: str, subprotocol: str) -> None:
        self._path, self._subprotocol = path, subprotocol
        self._buffer = b""
        self._upgraded = False
        self._waiter: asyncio.Future[str] | None = None
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {self._subprotocol}\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self._upgraded, self._buffer = True, rest
            self.opened.set_result(None)
        self._read_frames()

    def _read_frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start : start + length], buffer[start + length :]
            if opcode == 1 and self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(payload.decode())
            elif opcode == 9:  # ping: answer with a pong carrying the same data
                pong = bytearray(masked_frame(payload.decode(errors="replace")))
                pong[0] = 0x8A
                assert self.transport is not None
                self.transport.write(bytes(pong))
        self._buffer = buffer

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError(f"connection lost: {exc}")
        for future in (self.opened, self._waiter):
            if future is not None and not future.done():
                future.set_exception(error)

    async def request(self, text: str) -> str:
        """Send one text frame and return the next text frame received."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(masked_frame(text))
        return await self._waiter


async def open_client(port: int, identity: str, subprotocol: str = "ocpp1.6") -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: Client(f"/{identity}", subprotocol), "127.0.0.1", port
    )
    await client.opened
    return client


async def open_clients(port: int, count: int, prefix: str, parallel: int = 100) -> list[Client]:
    """``count`` connections, at most ``parallel`` handshakes at a time."""
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> Client:
        async with gate:
            return await open_client(port, f"{prefix}{index:05d}")

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def latency_summary(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds (0 when there are none)."""
    if len(latencies) < 2:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


async def closed_loop(
    port: int, clients: int, seconds: float, warmup: float, server_pid: int | None
) -> dict[str, Any]:
    """``clients`` connections, each sending BootNotification CALLs one after the other."""
    connections = await open_clients(port, clients, "LOAD")
    latencies: list[float] = []
    measuring = False
    stop = False

    async def run(client: Client, index: int) -> None:
        sequence = 0
        while not stop:
            sequence += 1
            text = BOOT.frame(f"{index}-{sequence}")
            sent = time.perf_counter()
            await client.request(text)
            if measuring:
                latencies.append(time.perf_counter() - sent)

    tasks = [asyncio.create_task(run(c, i)) for i, c in enumerate(connections)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu, server_cpu = time.process_time(), cpu_seconds(server_pid) if server_pid else 0.0
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    measuring = False
    elapsed = time.perf_counter() - start
    result = {
        "clients": clients,
        "calls_per_s": len(latencies) / elapsed,
        **latency_summary(latencies),
        "loadgen_cpu": (time.process_time() - cpu) / elapsed,
    }
    if server_pid:
        result["server_cpu"] = (cpu_seconds(server_pid) - server_cpu) / elapsed
    stop = True
    await asyncio.wait(tasks, timeout=5)
    for client in connections:
        assert client.transport is not None
        client.transport.close()
    return result


async def heartbeats(port: int, clients: int, seconds: float, interval: float) -> dict[str, Any]:
    """Hold ``clients`` connections, each sending a Heartbeat every ``interval`` seconds."""
    connections = await open_clients(port, clients, "BEAT")
    connected = time.perf_counter()
    latencies: list[float] = []
    deadline = connected + seconds

    async def beat(client: Client, message: Message) -> None:
        await asyncio.sleep(random.uniform(0, interval))  # spread the beats out
        sequence = 0
        while time.perf_counter() < deadline:
            sequence += 1
            sent = time.perf_counter()
            await client.request(message.frame(str(sequence)))
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - sent)))

    print(json.dumps({"event": "connected"}), flush=True)
    await asyncio.gather(*(beat(c, HEARTBEAT) for c in connections))
    result = {"clients": clients, "heartbeats": len(latencies), **latency_summary(latencies)}
    for client in connections:
        assert client.transport is not None
        client.transport.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loadgen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, required=True, help="the server's, on 127.0.0.1")
    parser.add_argument("--clients", default="50", help="a count, or counts run one by one: 1,50")
    parser.add_argument("--seconds", type=float, default=5, help="measured, per count (5)")
    parser.add_argument("--warmup", type=float, default=1, help="before measuring (1)")
    parser.add_argument("--server-pid", type=int, help="to report the server's CPU time")
    parser.add_argument("--heartbeat-interval", type=float, help="hold connections, heartbeating")
    args = parser.parse_args()
    raise_fd_limit()
    for clients in map(int, args.clients.split(",")):
        if args.heartbeat_interval:
            coro = heartbeats(args.port, clients, args.seconds, args.heartbeat_interval)
        else:
            coro = closed_loop(args.port, clients, args.seconds, args.warmup, args.server_pid)
        print(json.dumps({"event": "result", **asyncio.run(coro)}), flush=True)


if __name__ == "__main__":
    main()

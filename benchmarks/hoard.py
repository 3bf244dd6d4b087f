"""Peers that begin a message and never finish it: the server's memory while they hold, and after.

    python -m benchmarks.hoard                        # 400 peers, one 1 MiB first fragment each
    python -m benchmarks.hoard --fragment 65536       # the same message in 64 KiB fragments
    python -m benchmarks.hoard --budget-mib 1024      # a budget that closes nobody

``python -m trio_ocpp --log-level WARNING`` runs in a child process, the trio_ocpp that
PYTHONPATH gives (point it at another tree to compare). Each peer upgrades and sends the first
fragments of a message just under 1 MiB, FIN unset, and stays. Printed: the server's RSS idle,
while the peers hold, and once they have all closed; how many got Close 1009.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys

import trio

from .connections import rss_bytes
from .hostile import HOST, request
from .loadgen import raise_fd_limit

PAYLOAD = 2**20 - 64


def first_fragments(size: int) -> bytes:
    """The message's fragments but the last, masked with a zero key (the payload as it is)."""
    frames = []
    for start in range(0, PAYLOAD, size):
        n = min(size, PAYLOAD - start)
        head = bytes([0x00 if start else 0x01, 0x80 | 127]) + n.to_bytes(8, "big")
        frames.append(head + bytes(4) + b" " * n)
    return b"".join(frames)


async def hoard(port: int, peers: int, data: bytes) -> tuple[list[trio.SocketStream], int]:
    streams: list[trio.SocketStream] = []

    async def one(i: int) -> None:
        stream = await trio.open_tcp_stream(HOST, port)
        streams.append(stream)
        await stream.send_all(request(f"/H{i}"))
        await stream.receive_some(65536)  # the 101
        with contextlib.suppress(trio.BrokenResourceError):  # closed already
            await stream.send_all(data)

    async with trio.open_nursery() as nursery:
        for i in range(peers):
            nursery.start_soon(one, i)
            if i % 20 == 19:
                await trio.sleep(0.05)
    await trio.sleep(2)
    closed = 0
    for stream in streams:  # a Close 1009 is 0x88, length, then 0x03f1
        with trio.move_on_after(0.01):
            got = await stream.receive_some(65536)
            closed += b"\x88" in got and b"\x03\xf1" in got
    return streams, closed


async def main(args: argparse.Namespace) -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "trio_ocpp", "--log-level", "WARNING", "--host", HOST]
    command += ["--port", str(port), "--max-handshakes", str(args.peers + 100)]
    if args.budget_mib is not None:
        command += ["--receive-budget", str(args.budget_mib)]
    server = subprocess.Popen(command, env=os.environ)
    try:
        for _ in range(100):
            try:
                await (await trio.open_tcp_stream(HOST, port)).aclose()
                break
            except OSError:
                await trio.sleep(0.1)
        idle = rss_bytes(server.pid)
        streams, closed = await hoard(port, args.peers, first_fragments(args.fragment))
        held = rss_bytes(server.pid)
        for stream in streams:
            await trio.aclose_forcefully(stream)
        await trio.sleep(2)
        after = rss_bytes(server.pid)
    finally:
        server.terminate()
        server.wait()
    mb = 1e6
    print(
        f"{args.peers} peers, {args.fragment} B fragments: RSS idle {idle / mb:.0f} MB, "
        f"held {held / mb:.0f} MB ({closed} closed with 1009), after {after / mb:.0f} MB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hoard", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--peers", type=int, default=400, help="peers holding a message (400)")
    parser.add_argument("--fragment", type=int, default=PAYLOAD, help="bytes per fragment")
    parser.add_argument("--budget-mib", type=int, help="the server's --receive-budget")
    raise_fd_limit()
    trio.run(main, parser.parse_args())

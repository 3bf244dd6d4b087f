"""Instructions per opening handshake, counted by callgrind in a server process:
``python -m benchmarks.handshakes [--boot]`` (needs valgrind).

A trio_ocpp Server (1.6) runs under callgrind; another process opens connections one at a time
with the request a charge point sends (GET, Host, Upgrade, Connection, Sec-WebSocket-Key,
Sec-WebSocket-Version, Sec-WebSocket-Protocol, User-Agent), reads the 101 and closes with a
Close frame. Run with a few and with many connections: the difference in instructions over the
difference in connections is the cost of one, accept to close, start-up left out. Measured with
the handshake fast path on and off (the server's private switch). With ``--boot``, each charge
point sends a BootNotification once open and closes after its answer: what one charge point of a
reconnecting fleet costs the server (the fast path only, the server's default).
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import struct
import subprocess
import sys
import tempfile

import trio

from trio_ocpp import Server

from .callgrind import callgrind_total, under_callgrind
from .messages import BOOT
from .workload import OUR_CLASSES

HOST = "127.0.0.1"
MODES = {"fast path": True, "full path": False}


async def serve(fast: bool) -> None:
    """A server until stdin ends; prints its port."""
    server = Server(OUR_CLASSES["1.6"])
    server._fast_handshakes = fast
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, HOST, 0)
        print(server.port, flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        while await stdin.receive_some():
            pass
        nursery.cancel_scope.cancel()


def upgraded(port: int, index: int) -> socket.socket:
    """A charge point's blocking socket, once the server answered its upgrade (nothing after
    the 101 was sent with it: the server speaks first never)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /CP{index} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: ocpp1.6\r\nUser-Agent: bench-charge-point/1.0\r\n\r\n"
    )
    sock = socket.create_connection((HOST, port))
    sock.sendall(request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, "the server closed during the handshake"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    return sock


def masked(opcode: int, payload: bytes) -> bytes:
    """A client's whole frame of ``payload`` (under 64 KiB)."""
    size = len(payload)
    length = bytes((0x80 | size,)) if size < 126 else b"\xfe" + struct.pack("!H", size)
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode,)) + length + mask + body


def connect_once(port: int, index: int, boot: bool = False) -> None:
    """One charge point's connection: the upgrade, then (``boot``) a BootNotification and its
    answer, then a Close (1000) and the server's."""
    with upgraded(port, index) as sock:
        if boot:
            sock.sendall(masked(0x1, BOOT.frame(str(index)).encode()))
            answer = sock.recv(4096)
            assert answer[:1] == b"\x81", answer  # small: one read holds it
        sock.sendall(masked(0x8, struct.pack("!H", 1000)))
        while sock.recv(4096):
            pass


def instructions(fast: bool, connections: int, boot: bool = False) -> int:
    """Instructions of a server process that served ``connections`` one after another."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        serve = [sys.executable, "-m", "benchmarks.handshakes", "--serve", str(int(fast))]
        server = subprocess.Popen(
            under_callgrind(out, serve),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
        for index in range(connections):
            connect_once(port, index, boot)
        server.stdin.close()
        server.wait()
        return callgrind_total(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handshakes")
    parser.add_argument("--few", type=int, default=50, help="connections of the short run (50)")
    parser.add_argument("--many", type=int, default=450, help="connections of the long run (450)")
    parser.add_argument(
        "--boot", action="store_true", help="a BootNotification on each connection (fast path)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:  # the server, under callgrind
        trio.run(serve, bool(args.serve))
        return
    if args.boot:
        few, many = instructions(True, args.few, True), instructions(True, args.many, True)
        per_boot = (many - few) / (args.many - args.few)
        print(f"fast path, booted: {per_boot:9.0f} instructions per connection")
        return
    per_handshake: dict[str, float] = {}
    for mode, fast in MODES.items():
        few, many = instructions(fast, args.few), instructions(fast, args.many)
        per_handshake[mode] = (many - few) / (args.many - args.few)
        print(f"{mode:>10}: {per_handshake[mode]:9.0f} instructions per connection", flush=True)
    ratio = per_handshake["fast path"] / per_handshake["full path"]
    print(f"fast / full: {ratio:.2f}")


if __name__ == "__main__":
    main()

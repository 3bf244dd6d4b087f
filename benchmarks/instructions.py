"""Instructions per inbound CALL, counted by callgrind: stable where timings are not (a loaded,
shared machine). ``python -m benchmarks.instructions [--socket]`` (needs valgrind).

A server ChargePoint answers BootNotifications sent as text on an in-memory connection (no
socket, no WebSocket framing: the OCPP work alone), with no observer, a no-op observer, and
Prometheus metrics. With ``--socket``, a server process of ``servers.py`` answers them over a
real socket from a client in this process (what a call costs a server in user space, with our
transport's bare echo beside it). Both run with trio's clock frozen (``--frozen-clock`` of
``servers.py``): no timer fires, so the counts do not depend on how long callgrind took. Each
is run twice, with a few and with many CALLs, under callgrind: the difference in instructions
over the difference in CALLs is the cost of one, start-up left out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

import trio
import trio.testing

from trio_ocpp.testing.memory import memory_connections

from .callgrind import callgrind_total, under_callgrind
from .handshakes import masked, upgraded
from .messages import BOOT
from .servers import observers
from .workload import OUR_CLASSES

KINDS = {"none": (False, False), "no-op observer": (True, False), "metrics": (False, True)}
#: The same, as servers.py's kinds, and our transport's bare echo.
SERVER_KINDS = {
    "none": "trio-ocpp",
    "no-op observer": "trio-ocpp-observed",
    "metrics": "trio-ocpp-metrics",
    "echo": "echo",
}


async def answer(kind: str, calls: int) -> None:
    """``calls`` BootNotifications, one at a time, each answered before the next."""
    server_end, peer = memory_connections("ocpp1.6")
    charge_point = OUR_CLASSES["1.6"]("CP1", server_end, observers=observers(*KINDS[kind]))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(charge_point.start)
        for index in range(calls):
            await peer.send_message(BOOT.frame(str(index)))
            await peer.get_message()
        await peer.aclose()


def instructions(kind: str, calls: int) -> int:
    """Instructions of a whole run under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        run = [sys.executable, "-m", "benchmarks.instructions", "--run", kind, str(calls)]
        subprocess.run(under_callgrind(out, run), check=True, capture_output=True)
        return callgrind_total(out)


def server_instructions(kind: str, calls: int) -> int:
    """Instructions of a server process (``servers.py``'s ``kind``) that answered ``calls``
    BootNotifications, one after another, on one connection."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        serve = [sys.executable, "-m", "benchmarks.servers", kind, "--frozen-clock"]
        with subprocess.Popen(
            under_callgrind(out, serve), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as server:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            with upgraded(port, 1) as sock:
                for index in range(calls):
                    sock.sendall(masked(0x1, BOOT.frame(str(index)).encode()))
                    answer = sock.recv(4096)
                    assert answer[:1] == b"\x81", answer  # small: one read holds it
            server.send_signal(signal.SIGTERM)  # callgrind writes its counts as it ends
        return callgrind_total(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--few", type=int, default=200, help="CALLs of the short run (200)")
    parser.add_argument("--many", type=int, default=2200, help="CALLs of the long run (2200)")
    parser.add_argument("--socket", action="store_true", help="in server processes")
    parser.add_argument("--run", nargs=2, metavar=("KIND", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # one run, under callgrind
        trio.run(answer, args.run[0], int(args.run[1]), clock=trio.testing.MockClock())
        return
    count = server_instructions if args.socket else instructions
    per_call: dict[str, float] = {}
    for name, kind in (SERVER_KINDS if args.socket else {k: k for k in KINDS}).items():
        few, many = count(kind, args.few), count(kind, args.many)
        per_call[name] = (many - few) / (args.many - args.few)
        extra = per_call[name] / next(iter(per_call.values())) - 1
        print(f"{name:>15}: {per_call[name]:9.0f} instructions per inbound CALL ({extra:+.1%})")


if __name__ == "__main__":
    main()

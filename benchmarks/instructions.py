"""Instructions per inbound CALL, counted by callgrind: stable where timings are not (a loaded,
shared machine). ``python -m benchmarks.instructions`` (needs valgrind).

A server ChargePoint answers BootNotifications sent as text on an in-memory connection (no
socket, no WebSocket framing: the OCPP work alone), with no observer, a no-op observer, and
Prometheus metrics. Each is run twice, with a few and with many CALLs, under callgrind: the
difference in instructions over the difference in CALLs is the cost of one, start-up left out.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import trio

from trio_ocpp.testing.memory import memory_connections

from .messages import BOOT
from .servers import observers
from .workload import OUR_CLASSES

KINDS = {"none": (False, False), "no-op observer": (True, False), "metrics": (False, True)}


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
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        command += [sys.executable, "-m", "benchmarks.instructions", "--run", kind, str(calls)]
        subprocess.run(command, check=True, capture_output=True)
        return callgrind_total(out)


def callgrind_total(path: str) -> int:
    """The instructions a callgrind output file counted in all."""
    with open(path) as file:
        totals = re.search(r"^(?:summary|totals): (\d+)", file.read(), re.MULTILINE)
    assert totals is not None, "no totals in callgrind's output"
    return int(totals[1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--few", type=int, default=200, help="CALLs of the short run (200)")
    parser.add_argument("--many", type=int, default=2200, help="CALLs of the long run (2200)")
    parser.add_argument("--run", nargs=2, metavar=("KIND", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # one run, under callgrind
        trio.run(answer, args.run[0], int(args.run[1]))
        return
    per_call: dict[str, float] = {}
    for kind in KINDS:
        few, many = instructions(kind, args.few), instructions(kind, args.many)
        per_call[kind] = (many - few) / (args.many - args.few)
        extra = per_call[kind] / per_call["none"] - 1
        print(f"{kind:>15}: {per_call[kind]:9.0f} instructions per inbound CALL ({extra:+.1%})")


if __name__ == "__main__":
    main()

"""Memory held for unfinished messages (issue 23, item 2): what one costs, and what is given back.

A peer that starts a message and never finishes it holds the server's memory: its bytes once,
however it is fragmented, and back to the system once the peer is gone. Before, a 1 MiB first
fragment cost 2 MiB (the protocol's parser kept the frame it last parsed, and the fragments
were copied), and a server that 40 such peers had held stayed at its peak after they left
(glibc served the buffers from the heap once it had freed one). The total is bounded by the
server's budget: test_receive_budget.py.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import tracemalloc
from pathlib import Path

import pytest
import trio
from helpers.peers import (
    BOOT,
    CONT,
    TEXT,
    KiB,
    MiB,
    frame,
    serving,
    synced,
    text,
    upgraded,
)
from helpers.processes import free_port, wait_listening

# -- one connection ------------------------------------------------------------------------------

PAYLOAD = 2**20 - 64  # just under the default max_message_size


def fragments(size: int) -> bytes:
    chunks = [b" " * size] * (PAYLOAD // size) + (
        [b" " * (PAYLOAD % size)] if PAYLOAD % size else []
    )
    return b"".join(frame(CONT if i else TEXT, chunk, fin=False) for i, chunk in enumerate(chunks))


UNFINISHED = {
    "one first fragment": fragments(PAYLOAD),
    "64 KiB fragments": fragments(64 * KiB),
    "1 KiB fragments": fragments(KiB),
    "a frame cut short": frame(TEXT, b" " * PAYLOAD, fin=False)[:-1],
}


@pytest.mark.parametrize("data", UNFINISHED.values(), ids=UNFINISHED.keys())
async def test_an_unfinished_message_costs_its_bytes_once(data: bytes) -> None:
    async with serving(MiB) as server:
        peer = await upgraded(server.port, "/CP_1")
        await synced(peer)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await peer.stream.send_all(data)
            # Nothing follows, not even a ping: what the parser keeps of the last frame stays.
            ws = server.charge_points["CP_1"].connection
            with trio.fail_after(5):
                while len(ws._fragments or b"") + len(ws._protocol.reader.buffer) < PAYLOAD - 1:
                    await trio.sleep(0.01)
            await trio.sleep(0.05)
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
            # The payload, the buffers' growth margin (an eighth) and a read.
            assert held <= PAYLOAD * 9 // 8 + 16 * KiB, f"{held / MiB:.2f} MiB held"
            await peer.stream.aclose()
            with trio.fail_after(5):
                while server.charge_points:
                    await trio.sleep(0.01)
            gc.collect()
            left = tracemalloc.get_traced_memory()[0] - before
            assert left <= 64 * KiB, f"{left / MiB:.2f} MiB left after the close"
        finally:
            tracemalloc.stop()


# -- a real server process -------------------------------------------------------------------


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KiB
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
async def test_the_servers_memory_is_bounded_and_given_back() -> None:
    count = 40  # 40 MiB: under the default budget, nobody is closed
    port = free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--log-level", "WARNING"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = await trio.lowlevel.open_process(command, env=os.environ)
    try:
        with trio.fail_after(20):
            await wait_listening(port)
            warm = await upgraded(port, "/WARM")
            await warm.stream.send_all(text(BOOT))
            await warm.answer()
            idle = rss(process.pid)
            data = fragments(PAYLOAD)
            hoarders = []
            for i in range(count):
                hoarders.append(peer := await upgraded(port, f"/H{i}"))
                await peer.stream.send_all(data)
            for peer in hoarders:
                await synced(peer)
            during = rss(process.pid) - idle
            for peer in hoarders:
                await peer.stream.aclose()
            await synced(warm)
            with trio.move_on_after(5):  # the closes are being handled
                while (after := rss(process.pid) - idle) > 12 * MiB:
                    await trio.sleep(0.1)
        # 40 MiB held: at most that, its growth margin, and some noise.
        assert during <= count * PAYLOAD * 9 // 8 + 12 * MiB, f"{during / MiB:.0f} MiB"
        assert after <= 12 * MiB, f"{after / MiB:.0f} MiB kept after the hoarders left"
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "trio_ocpp")

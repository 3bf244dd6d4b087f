"""Memory held for unfinished messages (issue 23, item 2): what one costs, and what is given back.

A peer that starts a message and never finishes it holds the server's memory: its bytes once,
however it is fragmented. Before, a 1 MiB first fragment cost 2 MiB (the protocol's parser
kept the frame it last parsed, and the fragments were copied).
"""

from __future__ import annotations

import gc
import logging
import ssl
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from test_websocket import (
    CONT,
    PING,
    PONG,
    TEXT,
    CentralSystem,
    Peer,
    frame,
    request,
)

from trio_ocpp import Server

KiB, MiB = 2**10, 2**20


@asynccontextmanager
async def serving(
    max_message_size: int, tls: ssl.SSLContext | None = None, **options: object
) -> AsyncIterator[Server]:
    server = Server(
        CentralSystem,
        ssl_context=tls,
        charge_point_options={"ping_interval": 0},
        **options,  # type: ignore[arg-type]
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: server.run(
                "127.0.0.1", 0, max_message_size=max_message_size, task_status=task_status
            )
        )
        yield server
        nursery.cancel_scope.cancel()


async def connected(port: int, path: str, client_tls: ssl.SSLContext | None = None) -> Peer:
    stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", port)
    if client_tls is not None:
        stream = trio.SSLStream(
            stream, client_tls, server_hostname="127.0.0.1", https_compatible=True
        )
    await stream.send_all(request(path))
    peer = Peer(stream)
    with trio.fail_after(5):
        assert (await peer.response())[0] == 101
    return peer


async def synced(peer: Peer) -> None:
    """The server has read everything sent before: it answered a ping sent after it."""
    await peer.stream.send_all(frame(PING, b"sync"))
    with trio.fail_after(5):
        assert await peer.frame() == (PONG, b"sync")


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
        peer = await connected(server.port, "/CP_1")
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


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "trio_ocpp")

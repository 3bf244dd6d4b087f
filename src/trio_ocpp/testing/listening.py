"""A fake central system on a real socket: for testing a charge point's client side (``connect``,
``Client``) end to end: its URL, subprotocol, headers and reconnections."""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote

import trio
import trio_websocket

from .._core.versions import SUBPROTOCOLS, normalize_version
from .._transport.adapters import TrioWebsocketAdapter
from .frames_log import FrameLog
from .scripted import TIME_LIMIT, ExpectationError, FakeCentralSystem

__all__ = ["FakeCentralSystemServer", "fake_central_system_server"]


class FakeCentralSystemServer:
    """Where charge points connect (``url``), and the fakes that answer them."""

    def __init__(
        self,
        url: str,
        accepted: trio.MemoryReceiveChannel[FakeCentralSystem],
        time_limit: float = TIME_LIMIT,
    ) -> None:
        #: The endpoint: a charge point appends its identity.
        self.url = url
        self.time_limit = time_limit
        self._accepted = accepted

    async def accept(self) -> FakeCentralSystem:
        """The next charge point that connected, as a :class:`FakeCentralSystem` (its
        ``identity`` from the URL, ``headers`` those of its opening request)."""
        with trio.move_on_after(self.time_limit):
            return await self._accepted.receive()
        raise ExpectationError(f"no charge point connected to {self.url} in {self.time_limit:g} s")


async def _serve_one(
    version: str,
    time_limit: float,
    accepted: trio.MemorySendChannel[FakeCentralSystem],
    request: trio_websocket.WebSocketRequest,
) -> None:
    subprotocol = SUBPROTOCOLS[normalize_version(version)]
    if subprotocol not in request.proposed_subprotocols:
        await request.reject(400, body=f"offer {subprotocol}".encode())
        return
    ws = await request.accept(subprotocol=subprotocol)
    identity = unquote(request.path.rstrip("/").rsplit("/", 1)[-1])
    fake = FakeCentralSystem(
        TrioWebsocketAdapter(ws), normalize_version(version), identity, FrameLog(), time_limit
    )
    fake.headers = {name.decode().lower(): value.decode() for name, value in request.headers}
    accepted.send_nowait(fake)
    await fake.read()  # until the connection closes


@asynccontextmanager
async def fake_central_system_server(
    version: str = "1.6", *, time_limit: float = TIME_LIMIT
) -> AsyncIterator[FakeCentralSystemServer]:
    """Listen on a free port of 127.0.0.1 for the block: each charge point that connects
    offering ``version`` is answered by a :class:`FakeCentralSystem` that
    :meth:`FakeCentralSystemServer.accept` returns."""
    send, receive = trio.open_memory_channel[FakeCentralSystem](math.inf)
    async with trio.open_nursery() as nursery:
        handler = functools.partial(_serve_one, version, time_limit, send)
        listening = await nursery.start(
            trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None
        )
        server = FakeCentralSystemServer(f"ws://127.0.0.1:{listening.port}/", receive)
        server.time_limit = time_limit
        yield server
        nursery.cancel_scope.cancel()

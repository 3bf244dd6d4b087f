"""A bare WebSocket echo on our transport, no OCPP at all: the ceiling the benchmarks measure
the server against, and the peer the Autobahn conformance suite tests."""

from __future__ import annotations

import trio

from .connection import ConnectionClosed
from .handshake import read_request

__all__ = ["echo"]


async def echo(stream: trio.SocketStream, subprotocol: str | None, max_message_size: int) -> None:
    """Answer the opening handshake on ``stream`` (with ``subprotocol`` if offered), then send
    back every message until the peer closes."""
    handshake = await read_request(stream, max_message_size)
    if handshake is None:
        return
    ws = handshake.accept(handshake.check(subprotocol), "")
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except ConnectionClosed:
        pass
    finally:
        await trio.aclose_forcefully(stream)

"""An in-memory WebSocket connection: two ends that carry text messages and one close.

Each end is what a ChargePoint runs on (``get_message``, ``send_message``, ``aclose``), so the
frames go through the runtime exactly as a socket's would: as text, parsed, validated, routed.
There is no WebSocket framing and no keep-alive (an end has no ``ping``), which is what makes a
test on it cost microseconds and run under a mock clock.
"""

from __future__ import annotations

import math

import trio

from .._core import close_codes
from .._transport.connection import ConnectionClosed

__all__ = ["MemoryConnection", "memory_connections"]


class _Wire:
    """What both ends share: the close, once one end closed (or the test hung up)."""

    def __init__(self) -> None:
        self.close: tuple[int, str] | None = None
        self.senders: list[trio.MemorySendChannel[str | bytes]] = []

    def shut(self, code: int, reason: str) -> None:
        if self.close is None:
            self.close = (code, reason)
            for sender in self.senders:
                sender.close()  # each end reads what was sent before, then the close


class MemoryConnection:
    """One end of :func:`memory_connections`.

    ``is_client`` says which side it plays (observers see ``side`` from it); ``subprotocol``
    is the version's, as a socket connection's would be.
    """

    def __init__(
        self,
        wire: _Wire,
        incoming: trio.MemoryReceiveChannel[str | bytes],
        outgoing: trio.MemorySendChannel[str | bytes],
        *,
        is_client: bool,
        subprotocol: str | None,
    ) -> None:
        self._wire = wire
        self._incoming = incoming
        self._outgoing = outgoing
        self.is_client = is_client
        self.subprotocol = subprotocol
        self.remote: str | None = None

    @property
    def closed(self) -> ConnectionClosed | None:
        """Why the connection is closed; None while it is open."""
        close = self._wire.close
        return None if close is None else ConnectionClosed(*close)

    async def get_message(self) -> str | bytes:
        try:
            return await self._incoming.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ConnectionClosed(*(self._wire.close or (close_codes.ABNORMAL, ""))) from None

    async def send_message(self, message: str | bytes) -> None:
        self.send_nowait(message)
        await trio.lowlevel.checkpoint()

    def send_nowait(self, message: str | bytes) -> None:
        """Send at once (the buffer has no bound): for a test that plays a peer by hand."""
        close = self._wire.close
        if close is not None:
            raise ConnectionClosed(*close)
        self._outgoing.send_nowait(message)

    def receive_nowait(self) -> str | bytes:
        """A message that arrived already, else ``trio.WouldBlock``."""
        return self._incoming.receive_nowait()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        self._wire.shut(code, reason or "")
        await trio.lowlevel.checkpoint()

    def hang_up(self) -> None:
        """End the connection without a closing handshake (1006), as a dropped socket does."""
        self._wire.shut(close_codes.ABNORMAL, "")


def memory_connections(subprotocol: str | None = None) -> tuple[MemoryConnection, MemoryConnection]:
    """Two joined ends: (the central system's, the charge point's)."""
    wire = _Wire()
    to_server, server_in = trio.open_memory_channel[str | bytes](math.inf)
    to_client, client_in = trio.open_memory_channel[str | bytes](math.inf)
    wire.senders = [to_server, to_client]
    server = MemoryConnection(wire, server_in, to_client, is_client=False, subprotocol=subprotocol)
    client = MemoryConnection(wire, client_in, to_server, is_client=True, subprotocol=subprotocol)
    return server, client

"""An in-memory stand-in for a WebSocket connection: the test plays the peer of a ChargePoint.

A ChargePoint reads frames only once started: :func:`running` starts one on a MemoryConnection
for the length of a block, and :meth:`MemoryConnection.exchange` hands it a frame and returns
what it sent back.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

from trio_ocpp import ConnectionClosed
from trio_ocpp.charge_point import ChargePoint

#: Seconds a block of :func:`running` may take.
TIME_LIMIT = 10


class MemoryConnection:
    """A ChargePoint's ``Connection`` over trio memory channels.

    The test puts frames in with :meth:`deliver` and takes what the ChargePoint sent from
    :meth:`sent`; ``close_code`` records how the ChargePoint closed the connection.
    """

    def __init__(self) -> None:
        self._to_cp, self._inbound = trio.open_memory_channel[str | bytes](math.inf)
        self._outbound, self._from_cp = trio.open_memory_channel[str](math.inf)
        self.close_code: int | None = None
        #: Set to make ``send_message`` block until it is set again (a peer that stopped reading).
        self.reading = trio.Event()
        self.reading.set()
        #: Seconds each frame takes to go out (a slow peer).
        self.send_delay = 0.0

    # -- the ChargePoint's side -------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        try:
            return await self._inbound.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ConnectionClosed(self.close_code or 1006) from None

    async def send_message(self, message: str) -> None:
        await self.reading.wait()
        if self.send_delay:
            await trio.sleep(self.send_delay)
        if self.close_code is not None:
            raise ConnectionClosed(self.close_code)
        self._outbound.send_nowait(message)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        if self.close_code is None:
            self.close_code = code
        self._inbound.close()
        await trio.lowlevel.checkpoint()

    # -- the test's side (the peer) -------------------------------------------------------------

    def deliver(self, message: str | bytes) -> None:
        self._to_cp.send_nowait(message)

    async def exchange(self, message: str | bytes) -> list[str]:
        """Deliver ``message`` to a started ChargePoint; what it sent once all its tasks wait."""
        self.deliver(message)
        await trio.testing.wait_all_tasks_blocked()
        return self.sent()

    def hang_up(self) -> None:
        """The peer goes away: the ChargePoint's next ``get_message`` ends its reader."""
        self._to_cp.close()

    def sent(self) -> list[str]:
        """Every frame sent since the last call."""
        frames = []
        while True:
            try:
                frames.append(self._from_cp.receive_nowait())
            except trio.WouldBlock:
                return frames


@asynccontextmanager
async def running(cp: ChargePoint) -> AsyncIterator[MemoryConnection]:
    """``cp`` started on its MemoryConnection for the block; then the peer hangs up and
    ``start()`` returns."""
    connection = cp.connection
    assert isinstance(connection, MemoryConnection)
    with trio.fail_after(TIME_LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cp.start)
            yield connection
            connection.hang_up()

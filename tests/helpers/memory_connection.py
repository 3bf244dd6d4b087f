"""The test plays the peer of a ChargePoint by hand, on the kit's in-memory connection.

:func:`running` starts a ChargePoint on a MemoryConnection for the length of a block, and
:meth:`MemoryConnection.exchange` hands it a frame and returns what it sent back. The
ChargePoint's end adds the faults runtime tests inject: a peer that stops reading or reads
slowly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

from trio_ocpp import ConnectionClosed
from trio_ocpp.charge_point import ChargePoint
from trio_ocpp.testing import memory_connections

#: Seconds a block of :func:`running` may take.
TIME_LIMIT = 10


class MemoryConnection:
    """A ChargePoint's ``Connection``: the test puts frames in with :meth:`deliver` and takes
    what the ChargePoint sent from :meth:`sent`; ``close_code`` records how it closed."""

    def __init__(self) -> None:
        self._end, self._peer = memory_connections()
        self.close_code: int | None = None
        #: Set to make ``send_message`` block until it is set again (a peer that stopped reading).
        self.reading = trio.Event()
        self.reading.set()
        #: Seconds each frame takes to go out (a slow peer).
        self.send_delay = 0.0

    # -- the ChargePoint's side -------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        return await self._end.get_message()

    async def send_message(self, message: str) -> None:
        await self.reading.wait()
        if self.send_delay:
            await trio.sleep(self.send_delay)
        if self.close_code is not None:
            raise ConnectionClosed(self.close_code)
        await self._end.send_message(message)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        if self.close_code is None:
            self.close_code = code
        await self._end.aclose(code, reason)

    # -- the test's side (the peer) -------------------------------------------------------------

    def deliver(self, message: str | bytes) -> None:
        self._peer.send_nowait(message)

    async def exchange(self, message: str | bytes) -> list[str]:
        """Deliver ``message`` to a started ChargePoint; what it sent once all its tasks wait."""
        self.deliver(message)
        await trio.testing.wait_all_tasks_blocked()
        return self.sent()

    def hang_up(self) -> None:
        """The peer goes away: the ChargePoint's next ``get_message`` ends its reader."""
        self._peer.hang_up()

    def sent(self) -> list[str]:
        """Every frame sent since the last call."""
        frames = []
        while True:
            try:
                frames.append(str(self._peer.receive_nowait()))
            except (trio.WouldBlock, trio.EndOfChannel):
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

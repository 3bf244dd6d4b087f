"""One task that wakes many connections at their deadlines: keep-alive pings, send timeouts.

A task per connection for this costs a Task, its context and a stack of coroutines that a full
garbage collection visits, for a timer that fires once a minute. A server runs one Watchdog for
all its connections; a ChargePoint started on its own runs one of its own.

A connection (its :class:`~.link.Link`) asks to be woken with :meth:`Watchdog.arm`; a request is
never taken back: when a connection moves its alarm earlier it arms again, and it ignores a
wake-up that is not its latest (``alarm(at, now)`` tells which one it is). The watchdog holds
connections weakly: one that ended is not kept, with its buffers, until its last wake-up falls
due.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import weakref
from typing import NoReturn, Protocol

import trio

from .._core.logsafe import escape

__all__ = ["Watchdog", "Watched"]

logger = logging.getLogger("trio_ocpp.charge_point")


class Watched(Protocol):
    """A connection the watchdog wakes."""

    @property
    def id(self) -> str: ...

    def alarm(self, at: float, now: float) -> None:
        """It is ``now``, at or after ``at``, a time asked for; must not raise, or await."""


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, weakref.ref[Watched]]] = []
        self._order = itertools.count()  # equal times: first armed, first woken
        self._sleep = trio.CancelScope()

    def arm(self, at: float, watched: Watched) -> None:
        """Call ``watched.alarm(at, now)`` at ``at`` (trio's clock)."""
        heapq.heappush(self._heap, (at, next(self._order), weakref.ref(watched)))
        if at < self._sleep.deadline:
            self._sleep.deadline = at

    async def run(self) -> NoReturn:
        heap = self._heap
        while True:
            with trio.CancelScope(deadline=heap[0][0] if heap else math.inf) as self._sleep:
                await trio.sleep_forever()
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                at, _, ref = heapq.heappop(heap)
                watched = ref()
                if watched is None:
                    continue  # that connection is gone
                try:
                    watched.alarm(at, now)
                except Exception:  # one connection's bug must not stop the others' timers
                    logger.exception("%s: the watchdog's alarm failed", escape(watched.id))

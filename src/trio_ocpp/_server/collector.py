"""The cyclic garbage collector with thousands of connections: its pauses kept short.

CPython's full collection visits every GC-tracked object, ~70 per connection: at 10,000
connections over a million, a pause of 100-300 ms in which no connection is served. It runs one
whenever the objects promoted to its oldest generation since the last one reach a quarter of
that generation, and a heartbeating fleet promotes a little at every young collection.
Its young collections are no shorter at that scale: they come when allocations outnumber
deallocations by 700, and a connection that answers a message frees as many tracked objects as
it makes, the new ones (what it holds while it waits for the next message) replacing old ones.
The young generation grows by those, ~20 per message, while the count stays low: at 1,000
messages a second it held 220,000 objects when a collection came, a 250 ms pause.

Past ``minimum`` connections a server's :class:`Collector` runs a young collection every
``interval`` (0.25 s) at most and then moves what survived out of the collector's sight with
``gc.freeze()``, with the modules, schemas and tables the process holds: young collections stay
small and CPython's full collections visit only what came since the last freeze. What a young
collection visits grows with the traffic (at 1,000 heartbeats a second, 14,000 objects in
0.25 s, a 4 ms pause: what the connections that answered hold while they wait again), so it
comes sooner as the traffic grows, down to every ``shortest`` seconds, for a pause of about
``pause`` (1 ms). The work is the same, each object visited once before it is frozen; the
pauses are shorter. Frozen objects are never collected, though: one that becomes cyclic
garbage (the objects of a connection that ended refer to each other: websockets' protocol and
its parser generator, for one) stays until the next thaw. So when a quarter of the
connections frozen have ended (CPython's own ratio), and every ``full_every`` seconds (15
minutes), it thaws everything and runs one full collection: frozen garbage, the application's
included, never outlives that.

The state is the process's: the last collector to stop thaws what they froze. A process whose
collector is disabled, or that froze objects itself (before forking workers), is left alone.
``Server(collector=None)`` turns it off.
"""

from __future__ import annotations

import enum
import gc
import logging
import time

import attrs
import trio

__all__ = ["COLLECTOR", "Collector", "Step", "Tally"]

logger = logging.getLogger("trio_ocpp.server.collector")


class Step(enum.Enum):
    WAIT = "wait"
    FREEZE = "freeze"  # a young collection, then freeze
    COLLECT = "collect"  # thaw, a full collection, then freeze (unless too few now)


@attrs.define
class Tally:
    """Connections a server ran (counted by the server, read by its collector)."""

    opened: int = 0
    ended: int = 0


@attrs.frozen
class Collector:
    """How a server keeps the cyclic collector's pauses short (module docstring).

    ``minimum``: connections before anything is frozen; ``interval``: seconds between young
    collections and freezes at most, ``shortest`` at least, as ``pause`` (seconds) asks;
    ``full_every``: seconds between full collections at most while objects are frozen.
    """

    minimum: int = 1000
    interval: float = 0.25
    full_every: float = 900.0
    pause: float = 0.001
    shortest: float = 0.01

    def next_interval(self, since: float, took: float) -> float:
        """The wait before the next young collection, when the last one came ``since``
        seconds after the one before and took ``took`` seconds: what it visits grows with the
        time between, so the wait that would make it last ``pause``, within ``shortest`` and
        ``interval``."""
        wanted = since * self.pause / took if took > 0 else self.interval
        return min(self.interval, max(self.shortest, wanted))

    def step(self, frozen: int, live: int, ended: int, since_full: float) -> Step:
        """What to do with ``live`` connections, when at most ``frozen`` were frozen since the
        last full collection (0: nothing is frozen), ``ended`` of them ended since, and that
        collection was ``since_full`` seconds ago."""
        if frozen and (ended >= max(frozen, self.minimum) // 4 or since_full >= self.full_every):
            return Step.COLLECT
        return Step.FREEZE if live >= self.minimum else Step.WAIT

    async def run(self, tally: Tally) -> None:
        """Apply the policy to the connections ``tally`` counts, until cancelled."""
        global _running
        if _running == 0 and (not gc.isenabled() or gc.get_freeze_count()):
            logger.info("the process manages its garbage collector: not freezing")
            return
        _running += 1
        try:
            await self._apply(tally)
        finally:
            _running -= 1
            if _running == 0:
                gc.unfreeze()  # every object back in the oldest generation, as before

    async def _apply(self, tally: Tally) -> None:
        frozen = 0  # the most connections frozen since the last full collection
        ended = 0  # the tally of ended connections then
        last_full = trio.current_time()
        interval = self.interval
        young = time.perf_counter()  # when the last young collection came
        while True:
            await trio.sleep(interval)
            if not gc.isenabled():
                continue  # the application took over
            live = tally.opened - tally.ended
            now = trio.current_time()
            step = self.step(frozen, live, tally.ended - ended, now - last_full)
            if step is Step.WAIT:
                continue
            if step is Step.COLLECT:
                started = time.perf_counter()
                gc.unfreeze()
                unreachable = gc.collect()
                logger.info(
                    "full collection at %d connections: %d unreachable objects, %.0f ms",
                    live,
                    unreachable,
                    (time.perf_counter() - started) * 1000,
                )
                frozen, ended, last_full = 0, tally.ended, now
                if live < self.minimum:
                    continue
            else:
                started = time.perf_counter()
                gc.collect(1)  # young garbage is not frozen
                interval = self.next_interval(started - young, time.perf_counter() - started)
                young = started
                if not frozen:  # nothing frozen yet: no frozen garbage before now
                    ended, last_full = tally.ended, now
                    logger.debug("freezing from %d connections on", live)
            gc.freeze()
            frozen = max(frozen, live)


#: A server's unless told otherwise.
COLLECTOR = Collector()

#: Collectors running in this process (they share its one garbage collector).
_running = 0

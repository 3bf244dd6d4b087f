"""The cyclic garbage collector with thousands of connections: full collections kept short.

CPython's full collection visits every GC-tracked object, ~70 per connection: at 10,000
connections over a million, a pause of 100-300 ms in which no connection is served. CPython
runs one whenever the objects promoted to its oldest generation since the last one reach a
quarter of that generation, and a heartbeating fleet promotes a little at every young
collection (whatever a connection holds while it waits), so one comes every tens of seconds.

A server's :class:`Collector` takes what is there out of the collector's sight with
``gc.freeze()`` once connections have come in: the settled connections, and the modules,
schemas and tables the process holds. Full collections then visit only what came since, and
stay short. Frozen objects are never collected, though: one that becomes cyclic garbage (the
objects of a connection that ended refer to each other: websockets' protocol and its parser
generator, for one) stays until the next thaw. So, checked once a second from the server's
nursery:

- below ``minimum`` connections nothing is frozen (full collections are short there);
- it freezes again, after a young collection (young garbage is not frozen), when a quarter
  more connections opened since the last freeze, and every ``refreeze_every`` seconds: what
  connections hold changes as they work, and what replaced frozen objects is visited again;
- it thaws, collects in full once and freezes again when a quarter of the connections frozen
  have ended (CPython's own ratio), and every ``full_every`` seconds: frozen garbage, the
  application's included, never outlives that.

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
    COLLECT = "collect"  # thaw, a full collection, then freeze (or stay thawed: too few)


@attrs.define
class Tally:
    """Connections a server ran (counted by the server, read by its collector)."""

    opened: int = 0
    ended: int = 0


@attrs.frozen
class Collector:
    """How a server keeps the cyclic collector's full collections short (module docstring).

    ``minimum``: connections before anything is frozen; ``refreeze_every``: seconds between
    freezes at most; ``full_every``: seconds between full collections at most while objects
    are frozen; ``interval``: seconds between checks.
    """

    minimum: int = 1000
    refreeze_every: float = 60.0
    full_every: float = 900.0
    interval: float = 1.0

    def step(
        self,
        frozen: int,
        live: int,
        opened: int,
        ended: int,
        since_freeze: float,
        since_full: float,
    ) -> Step:
        """What to do with ``live`` connections, ``frozen`` at the last freeze (0: nothing is
        frozen), ``opened`` and ``ended`` since, the last freeze ``since_freeze`` seconds ago
        and the last full collection ``since_full`` seconds ago."""
        if not frozen:
            return Step.FREEZE if live >= self.minimum else Step.WAIT
        quarter = max(frozen, self.minimum) // 4
        if ended >= quarter or since_full >= self.full_every:
            return Step.COLLECT
        if opened >= quarter or since_freeze >= self.refreeze_every:
            return Step.FREEZE
        return Step.WAIT

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
        frozen = 0  # connections at the last freeze
        opened = ended = 0  # the tally then
        last_freeze = last_full = trio.current_time()
        while True:
            await trio.sleep(self.interval)
            if not gc.isenabled():
                continue  # the application took over
            live = tally.opened - tally.ended
            now = trio.current_time()
            step = self.step(
                frozen,
                live,
                tally.opened - opened,
                tally.ended - ended,
                now - last_freeze,
                now - last_full,
            )
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
                frozen, last_full = 0, now
            if live >= self.minimum:
                if step is Step.FREEZE:
                    gc.collect(1)
                    if not frozen:
                        last_full = now  # nothing was frozen: no frozen garbage before now
                gc.freeze()
                frozen, last_freeze = live, now
                logger.debug("froze the objects of %d connections", live)
            opened, ended = tally.opened, tally.ended


#: A server's unless told otherwise.
COLLECTOR = Collector()

#: Collectors running in this process (they share its one garbage collector).
_running = 0

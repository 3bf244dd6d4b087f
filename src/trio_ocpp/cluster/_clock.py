"""The time the nodes agree on: Redis ``TIME``, as each node bounds it from its own clock.

A call's deadline and a connection's claim cross nodes whose clocks differ by any amount, so
neither is written in a node's own time. Each node measures its offset to the broker's clock:
``TIME`` was read somewhere between the local instants ``before`` and ``after`` of its round
trip, so ``redis - local`` lies in ``[reading - after, reading - before]``. That interval is
what a node knows; it widens with the sample's age by ``_DRIFT`` (how fast a clock being slewed
by NTP may run away from another), and a new sample replaces it when it is tighter.

- A caller whose local deadline is ``g`` writes the *earliest* broker time it may stand for:
  it surely gives up no sooner. A node that receives the call runs it only while its local
  time stands for a broker time surely *before* that (the interval's upper end), less
  ``SEND_MARGIN``. The two errors add up against the call, never for it: however the clocks
  are set, a node does not send after its caller gave up. What it costs: a call whose caller
  has less than the two uncertainties (half a round trip to Redis each, well under a
  millisecond on a LAN) plus the margin left is not sent.
- A claim is stamped with the middle estimate: claims made further apart than the
  uncertainty are ordered as they happened; closer ones are a tie that any order settles.

Redis ``TIME`` is its host's wall clock: a *step* of that clock (not a slew) misleads the
nodes until they measure again, at most ``MEASURE_EVERY`` seconds later.
"""

from __future__ import annotations

import contextlib
import math

import attrs
import trio

from ._broker import Broker, ClusterUnavailableError

__all__ = ["MEASURE_EVERY", "SEND_MARGIN", "SharedClock"]

#: Seconds between two measurements of a node's offset to the broker's clock.
MEASURE_EVERY = 5.0
#: Seconds kept between the last moment a node sends a call and its caller's deadline: trio
#: acts on an expired deadline at its next scheduling round, and a call is written after that.
SEND_MARGIN = 0.05
#: How fast the offset may change, in seconds per second (NTP slews a clock by 500 ppm at
#: most; the broker's clock and ours may be slewed in opposite directions).
_DRIFT = 1e-3


@attrs.define
class SharedClock:
    """One node's knowledge of the broker's clock (see the module docstring)."""

    #: Bounds of ``broker time - trio.current_time()``, measured at ``measured_at``.
    low: float = -math.inf
    high: float = math.inf
    measured_at: float = 0.0

    def bounds(self, now: float) -> tuple[float, float]:
        """The offset's bounds at local time ``now``: the measured ones, widened by age."""
        slack = _DRIFT * abs(now - self.measured_at)
        return self.low - slack, self.high + slack

    def earliest(self, local: float) -> float:
        """The earliest broker time that the local time ``local`` may be."""
        return local + self.bounds(local)[0]

    def last_local(self, shared: float) -> float:
        """The last local time that is surely before the broker time ``shared``: the ``t``
        with ``t + high(t) == shared``, where ``high`` ages too."""
        return (shared - self.high + _DRIFT * self.measured_at) / (1 + _DRIFT)

    def estimate(self, local: float) -> float:
        """The broker time at the local time ``local``: the middle of what it may be."""
        low, high = self.bounds(local)
        return local + (low + high) / 2

    async def measure(self, broker: Broker) -> None:
        """Read the broker's clock once; keep the sample if it is tighter than the one held."""
        before = trio.current_time()
        reading = await broker.time()
        after = trio.current_time()
        low, high = self.bounds(after)
        if after - before <= high - low:
            self.low, self.high, self.measured_at = reading - after, reading - before, after

    async def keep_measuring(self, broker: Broker) -> None:
        """Measure every ``MEASURE_EVERY`` seconds; while the broker is away the held sample
        ages (the membership task says that the broker is unreachable)."""
        while True:
            await trio.sleep(MEASURE_EVERY)
            with contextlib.suppress(ClusterUnavailableError):
                await self.measure(broker)

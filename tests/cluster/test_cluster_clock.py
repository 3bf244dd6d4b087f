"""The time the nodes agree on (trio_ocpp.cluster._clock): a call's deadline written by one
node and read by another, whose clocks and round trips to the broker differ, holds for both."""

from __future__ import annotations

import pytest
import trio
import trio.testing

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from trio_ocpp.cluster._clock import SharedClock


class SlowBroker:
    """A broker whose clock is ``offset`` seconds ahead of ours, read ``out`` s after the
    request left and answered ``back`` s before the answer came (autojump clock)."""

    def __init__(self, offset: float, out: float, back: float):
        self.offset, self.out, self.back = offset, out, back

    async def time(self) -> float:
        await trio.sleep(self.out)
        reading = trio.current_time() + self.offset
        await trio.sleep(self.back)
        return reading


@pytest.mark.parametrize(("out", "back"), [(0.001, 0.2), (0.2, 0.001), (0.05, 0.05)])
async def test_a_node_stops_before_its_caller_gives_up_whatever_the_clocks(
    autojump_clock: trio.testing.MockClock, out: float, back: float
) -> None:
    """Two nodes bound the broker's clock through round trips of opposite asymmetries; the
    holder's last moment to send comes before the caller gives up, also when its own clock
    is set 1,000 s off."""
    offset = 1_700_000_000.0
    caller, holder = SharedClock(), SharedClock()
    await caller.measure(SlowBroker(offset, out, back))  # type: ignore[arg-type]
    await holder.measure(SlowBroker(offset, back, out))  # type: ignore[arg-type]
    assert caller.low <= offset <= caller.high
    assert caller.high - caller.low == pytest.approx(out + back, abs=1e-6)
    await trio.sleep(30)  # the samples age: their bounds widen
    gives_up = trio.current_time() + 10  # the caller's deadline, its own (and the true) time
    shared = caller.earliest(gives_up)
    assert shared <= gives_up + offset
    last = holder.last_local(shared)
    assert last <= gives_up
    assert gives_up - last < 2 * (out + back) + 0.1  # and not much before
    # The same node with a clock set 1,000 s ahead: the same instant, in its time.
    ahead = SharedClock(holder.low - 1000, holder.high - 1000, holder.measured_at + 1000)
    assert ahead.last_local(shared) == pytest.approx(last + 1000, abs=1e-6)
    # A tighter sample replaces an older one; a looser one does not.
    await holder.measure(SlowBroker(offset, 0.001, 0.001))  # type: ignore[arg-type]
    assert holder.high - holder.low == pytest.approx(0.002, abs=1e-6)
    await holder.measure(SlowBroker(offset, 0.5, 0.5))  # type: ignore[arg-type]
    assert holder.high - holder.low == pytest.approx(0.002, abs=1e-6)

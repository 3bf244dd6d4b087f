"""``Ending`` (``_runtime/ending.py``): its signal is set at the end, or at once if the end came
first, and no Event is made for a thing that ends with nobody waiting."""

from __future__ import annotations

import trio
import trio.testing

from trio_ocpp._runtime.ending import Ending


async def test_a_waiter_before_the_end_returns_at_the_end() -> None:
    thing, returned = Ending(), []

    async def wait() -> None:
        await thing._ended_signal().wait()
        returned.append(True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        assert returned == []  # they wait
        thing._mark_ended()
    assert returned == [True, True]


def test_a_signal_asked_for_after_the_end_is_set() -> None:
    thing = Ending()
    thing._mark_ended()
    assert thing._ended_event is None  # nobody waited: no Event made
    assert thing._ended_signal().is_set()

"""``Ending`` (``_runtime/ending.py``): waiters before and after the end are let through, and
no Event is made for a thing that ends with nobody waiting."""

from __future__ import annotations

import trio
import trio.testing

from trio_ocpp._runtime.ending import Ending


async def test_waiters_before_and_after_the_end_return() -> None:
    thing, returned = Ending(), []

    async def wait() -> None:
        await thing._wait_ended()
        returned.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        assert returned == []  # they wait
        thing._mark_ended()
    assert len(returned) == 2
    with trio.testing.assert_checkpoints():  # an end already there: a checkpoint, no wait
        await thing._wait_ended()


def test_an_end_nobody_waited_for_makes_no_event() -> None:
    thing = Ending()
    thing._mark_ended()
    assert thing._ended_event is None and thing._has_ended

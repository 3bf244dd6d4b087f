"""CONFORMANCE 25 as decided: invalid and unanswerable frames against valid ones, in memory.

A peer is closed with 1002 once its invalid frames, responses to no call of ours and SENDs that no
handler took outnumber its valid frames by ``max_invalid_frames``. SENDs are handled at most
``max_concurrent_handlers`` at once, the rest wait: none is lost.
"""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.testing
from helpers.memory_connection import MemoryConnection

from trio_ocpp import v21
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
HEARTBEAT = json.dumps([2, "hb", "Heartbeat", {}])
STREAM = {"id": 1, "pending": 0, "basetime": TIME, "data": [{"t": 1, "v": "1"}]}


class CentralSystem(v21.ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams: list[int] = []
        self.release = trio.Event()

    @on("Heartbeat")
    def on_heartbeat(self) -> v21.call_result.Heartbeat:
        return v21.call_result.Heartbeat(current_time=TIME)

    @on("NotifyPeriodicEventStream")
    async def on_stream(self, id: int, **kwargs: Any) -> None:
        await self.release.wait()
        self.streams.append(id)


async def feed(frames: list[str], limit: int = 10, **options: Any) -> tuple[CentralSystem, Any]:
    """Deliver ``frames`` one by one to a started ChargePoint; stop at its close."""
    connection = MemoryConnection()
    cp = CentralSystem("CP", connection, ping_interval=0, max_invalid_frames=limit, **options)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        for frame in frames:
            if connection.close_code is not None:
                break
            connection.deliver(frame)
            await trio.testing.wait_all_tasks_blocked()
        connection.hang_up()
    return cp, connection


async def test_a_few_valid_frames_among_many_invalid_ones_do_not_keep_a_peer_open() -> None:
    # One valid frame in ten: the old rule ("in a row") never closed such a peer.
    frames = (["junk"] * 9 + [HEARTBEAT]) * 10
    cp, connection = await feed(frames, limit=10)
    assert connection.close_code == 1002
    assert cp.statistics().frames_received == 12  # 9 invalid (9), 1 valid (8), 2 invalid (10)


async def test_occasional_mistakes_among_valid_traffic_never_add_up() -> None:
    frames = (["junk"] + [HEARTBEAT] * 2) * 50
    _, connection = await feed(frames, limit=3)
    assert connection.close_code is None


async def test_responses_to_no_call_of_ours_count_as_misbehaviour() -> None:
    frames = [json.dumps([3, f"nobody-{i}", {}]) for i in range(20)]
    cp, connection = await feed(frames, limit=10)
    assert connection.close_code == 1002
    assert cp.statistics().unmatched_responses == 10


async def test_sends_nobody_handles_count_as_misbehaviour() -> None:
    frames = [json.dumps([6, f"s{i}", "NotifySettlement", {}]) for i in range(20)]  # invalid
    _, connection = await feed(frames, limit=10)
    assert connection.close_code == 1002


async def test_sends_past_the_handler_limit_wait_and_none_is_lost() -> None:
    connection = MemoryConnection()
    cp = CentralSystem("CP", connection, ping_interval=0, max_concurrent_handlers=2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        for i in range(10):
            connection.deliver(json.dumps([6, f"s{i}", "NotifyPeriodicEventStream", STREAM]))
        await trio.testing.wait_all_tasks_blocked()
        assert cp.statistics().frames_received == 3  # two handled, the reader waits with one
        cp.release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert cp.streams == [1] * 10
        assert connection.close_code is None
        connection.hang_up()

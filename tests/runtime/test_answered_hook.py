"""``ChargePoint.on_answered``: what a cluster node records events with."""

from __future__ import annotations

import json
from typing import Any

import trio
from helpers.memory_connection import MemoryConnection

from trio_ocpp import v201
from trio_ocpp.messages import Call, CallResult
from trio_ocpp.routing import on


class Station(v201.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time="2024-01-01T00:00:00Z")

    @on("Authorize")
    async def on_authorize(self, id_token: dict[str, Any]) -> Any:
        raise ValueError("refused")  # answered with a CALLERROR: not reported


async def test_each_answered_call_is_reported_once_after_its_answer_went_out() -> None:
    connection = MemoryConnection()
    cp = Station("CP", connection)
    seen: list[tuple[str, Call, CallResult, list[str]]] = []
    cp.on_answered = lambda cp, call, reply: seen.append((cp.id, call, reply, connection.sent()))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([2, "h", "Heartbeat", {}]))
        token = {"idToken": "x", "type": "ISO14443"}
        connection.deliver(json.dumps([2, "a", "Authorize", {"idToken": token}]))
        with trio.fail_after(5):
            while len(connection.sent()) < 1:
                await trio.sleep(0.01)
        await cp.aclose()
    [(identity, call, reply, sent_before)] = seen
    assert (identity, call.action, call.payload) == ("CP", "Heartbeat", {})
    assert reply.payload == {"currentTime": "2024-01-01T00:00:00Z"}
    assert json.loads(sent_before[0]) == [3, "h", reply.payload]  # reported after it went out

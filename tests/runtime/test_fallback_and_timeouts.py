"""``ChargePoint.fallback``: the CALLs no ``@on`` takes; ``call(..., timeout=)``: a limit per call,
after which a late response never confuses the next call."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import v16, v201
from trio_ocpp.exceptions import CallTimeoutError, SecurityError
from trio_ocpp.routing import on


class Gateway(v201.ChargePoint):
    seen: list[tuple[str, dict[str, Any], str]]

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time="2024-01-01T00:00:00Z")

    async def fallback(self, action: str, payload: dict[str, Any], unique_id: str) -> Any:
        self.seen.append((action, payload, unique_id))
        if action == "Authorize":
            return v201.call_result.Authorize(id_token_info={"status": "Accepted"})
        if action == "StatusNotification":
            return {}  # a dict is converted and checked like a handler's
        if action == "VendorThing":
            return {"echo": payload}  # an action the version lacks: sent as given
        if action == "Reset":
            raise SecurityError("not from you")
        return await super().fallback(action, payload, unique_id)  # today's answers


async def answer(connection: MemoryConnection, frame: list[Any]) -> list[Any]:
    [sent] = await connection.exchange(json.dumps(frame))
    return json.loads(sent)  # type: ignore[no-any-return]


async def test_the_fallback_answers_what_no_handler_takes() -> None:
    cp = Gateway("CP", MemoryConnection())
    cp.seen = []
    status = {
        "timestamp": "2024-01-01T00:00:00Z",
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    }
    async with running(cp) as connection:
        token = {"idToken": "abc", "type": "ISO14443"}
        authorize = await answer(connection, [2, "1", "Authorize", {"idToken": token}])
        assert authorize == [3, "1", {"idTokenInfo": {"status": "Accepted"}}]
        assert await answer(connection, [2, "2", "StatusNotification", status]) == [3, "2", {}]
        vendor = await answer(connection, [2, "3", "VendorThing", {"someKey": 1}])
        assert vendor == [3, "3", {"echo": {"someKey": 1}}]  # as received, not renamed
        refused = await answer(connection, [2, "4", "Reset", {"type": "Immediate"}])
        assert refused[:3] == [4, "4", "SecurityError"]
        # An invalid request of a known action never reaches it.
        invalid = await answer(connection, [2, "5", "Authorize", {"idToken": {"type": 1}}])
        assert invalid[:2] == [4, "5"] and invalid[2] != "SecurityError"
        # super().fallback(): the answers without a fallback.
        data = [{"component": {"name": "C"}, "variable": {"name": "V"}}]
        unsupported = await answer(connection, [2, "6", "GetVariables", {"getVariableData": data}])
        assert unsupported[2] == "NotSupported"
        unknown = await answer(connection, [2, "7", "Nonsense", {}])
        assert unknown[2] == "NotImplemented"
        # A handler still wins over the fallback.
        heartbeat = await answer(connection, [2, "8", "Heartbeat", {}])
        assert heartbeat[0] == 3
    actions = [(action, unique_id) for action, _, unique_id in cp.seen]
    assert ("Authorize", "1") in actions and ("Heartbeat", "8") not in actions
    # Snake_case for an action of the version, as received for any other.
    assert cp.seen[0][1] == {"id_token": {"id_token": "abc", "type": "ISO14443"}}
    assert ("VendorThing", {"someKey": 1}, "3") in cp.seen


async def test_unknown_actions_do_not_grow_the_route_table() -> None:
    cp = Gateway("CP", MemoryConnection())
    cp.seen = []
    async with running(cp) as connection:
        for n in range(50):
            await answer(connection, [2, str(n), f"Vendor{n}", {}])
    table = next(iter(Gateway._route_tables.values()))
    assert not any(action.startswith("Vendor") for action in table.calls)


async def test_without_a_fallback_the_answers_are_as_before() -> None:
    class Plain(v16.ChargePoint):
        pass

    assert Plain._handlers.fallback is None
    async with running(Plain("CP", MemoryConnection())) as connection:
        assert (await answer(connection, [2, "1", "Heartbeat", {}]))[2] == "NotSupported"
        assert (await answer(connection, [2, "2", "Nonsense", {}]))[2] == "NotImplemented"


async def test_a_late_response_after_a_per_call_timeout_never_answers_the_next_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    connection = MemoryConnection()
    cp = v16.ChargePoint("CP", connection, response_timeout=30)
    async with running(cp):
        started = trio.current_time()
        with pytest.raises(CallTimeoutError) as timed_out:
            await cp.call(v16.call.Reset(type="Hard"), timeout=5)
        assert trio.current_time() - started == pytest.approx(5)  # not response_timeout
        assert timed_out.value.timeout == 5
        [late] = connection.sent()
        late_id = json.loads(late)[1]

        async def reply_late_then_right() -> None:
            await trio.testing.wait_all_tasks_blocked()
            [next_call] = connection.sent()
            # The answer to the call that timed out comes while the next one waits...
            connection.deliver(json.dumps([3, late_id, {"status": "Rejected"}]))
            await trio.testing.wait_all_tasks_blocked()
            connection.deliver(json.dumps([3, json.loads(next_call)[1], {"status": "Accepted"}]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reply_late_then_right)
            result = await cp.call(v16.call.Reset(type="Soft"))
        assert result.status == "Accepted"  # its own answer, not the late one
        assert cp.statistics().unmatched_responses == 1

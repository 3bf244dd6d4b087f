"""The lean inbound path: routes looked up once and shared, no timeout scope where nothing awaits
(nor one per frame sent), typed handlers, the validation engine a connection keeps, and a
connection that ended freed at once. Frames go to a started ChargePoint's reader over an
in-memory connection.
"""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import pytest
import trio
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import exceptions, v16, v201
from trio_ocpp._core.schemas import MessageKind
from trio_ocpp.messages import Call, FormatPolicy, Send, set_validation_engine
from trio_ocpp.routing import after, on

TIME = "2024-01-01T00:00:00Z"
BOOT_16 = {"chargePointVendor": "V", "chargePointModel": "M"}


class CentralSystem(v16.ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> v16.call_result.Heartbeat:
        await trio.lowlevel.checkpoint()
        return v16.call_result.Heartbeat(current_time=TIME)

    @after("Heartbeat", inject_response=True)
    def after_heartbeat(self, response: Any) -> None:
        self.seen.append(response)


async def answer(connection: MemoryConnection, action: str, payload: Any) -> Any:
    (sent,) = await connection.exchange(json.dumps([2, "1", action, payload]))
    return json.loads(sent)


def charge_point(cls: type[Any] = CentralSystem, **options: Any) -> tuple[Any, MemoryConnection]:
    connection = MemoryConnection()
    return cls("CP", connection, **options), connection


async def test_routes_are_looked_up_once_and_shared_by_connections_alike() -> None:
    first, _ = charge_point()
    second, _ = charge_point()
    strict, _ = charge_point(receive_formats=FormatPolicy.STRICT)
    table = first._inbound.table
    assert table is second._inbound.table is not strict._inbound.table
    async with running(first) as connection:
        assert (await answer(connection, "BootNotification", BOOT_16))[0] == 3
    route = table.calls["BootNotification"]
    assert second._inbound.table.route("BootNotification", MessageKind.REQUEST) is route


async def test_actions_a_peer_makes_up_are_not_kept() -> None:
    cp, _ = charge_point()
    async with running(cp) as connection:
        for i in range(50):
            reply = await answer(connection, f"Made{i}Up", {})
            assert reply[2] == "NotImplemented"
        reply = await answer(connection, "Authorize", {"idTag": "x"})  # known, no handler
        assert reply[2] == "NotSupported"
    calls = cp._inbound.table.calls
    assert not [action for action in calls if action.startswith("Made")]
    assert "Authorize" not in calls


async def test_a_synchronous_handler_is_answered_even_past_the_handler_timeout() -> None:
    # No await on its path, so nothing could cancel it: the answer is its response, as before.
    cp, _ = charge_point(handler_timeout=0)
    async with running(cp) as connection:
        for _ in range(2):  # the first CALL looks the route up, the second takes the short path
            assert (await answer(connection, "BootNotification", BOOT_16))[2]["interval"] == 10
        reply = await answer(connection, "Heartbeat", {})  # it awaits: its timer fires there
    assert reply[:3] == [4, "1", "InternalError"]


async def test_synchronous_calls_are_answered_while_an_async_handler_waits() -> None:
    release = trio.Event()

    class Slow(CentralSystem):
        @on("DataTransfer")
        async def on_data_transfer(self, vendor_id: str) -> v16.call_result.DataTransfer:
            await release.wait()
            return v16.call_result.DataTransfer(status="Accepted")

    async def answers(count: int) -> list[Any]:
        frames: list[Any] = []
        with trio.fail_after(5):
            while len(frames) < count:
                await trio.sleep(0.01)
                frames += [json.loads(frame) for frame in connection.sent()]
        return frames

    cp, connection = charge_point(Slow)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([2, "slow", "DataTransfer", {"vendorId": "v"}]))
        for i in range(3):  # the first looks the route up (in a task), the others go inline
            connection.deliver(json.dumps([2, f"boot{i}", "BootNotification", BOOT_16]))
        # In any order: one that went to a task may be answered after one the reader answered.
        assert {frame[1] for frame in await answers(3)} == {"boot0", "boot1", "boot2"}
        assert cp.statistics().handlers_running == 1
        release.set()
        assert [frame[1] for frame in await answers(1)] == ["slow"]
        connection.hang_up()


async def test_an_overridden_pre_dispatch_runs_before_synchronous_handlers_too() -> None:
    class Refusing(CentralSystem):
        async def pre_dispatch(self, message: Call | Send) -> None:
            raise exceptions.SecurityError("not yet")

    cp, _ = charge_point(Refusing)
    async with running(cp) as connection:
        for _ in range(2):
            assert (await answer(connection, "BootNotification", BOOT_16))[2] == "SecurityError"


async def test_after_hooks_get_the_response_and_handlers_without_hooks_keep_nothing() -> None:
    cp, _ = charge_point()
    async with running(cp) as connection:
        await answer(connection, "Heartbeat", {})
        await answer(connection, "BootNotification", BOOT_16)
    assert cp.seen == [v16.call_result.Heartbeat(current_time=TIME)]
    assert cp._inbound.table.calls["BootNotification"].after == ()


async def test_typed_handlers_get_datatypes_objects_and_every_field() -> None:
    received: dict[str, Any] = {}

    class CSMS(v201.ChargePoint):
        @on("BootNotification")
        def on_boot(self, **kwargs: Any) -> v201.call_result.BootNotification:
            received.update(kwargs)
            return v201.call_result.BootNotification(
                current_time=TIME,
                interval=10,
                status=v201.enums.RegistrationStatusEnumType.accepted,
            )

    cp, _ = charge_point(CSMS, typed=True)
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    async with running(cp) as connection:
        reply = await answer(connection, "BootNotification", boot)
    assert reply[2] == {"currentTime": TIME, "interval": 10, "status": "Accepted"}
    assert received == {
        "charging_station": v201.datatypes.ChargingStationType(model="M", vendor_name="V"),
        "reason": v201.enums.BootReasonEnumType.power_up,
        "custom_data": None,
    }
    assert received["reason"] is v201.enums.BootReasonEnumType.power_up


async def test_a_connection_keeps_the_validation_engine_it_started_with() -> None:
    try:
        set_validation_engine("jsonschema")
        before, _ = charge_point()
        set_validation_engine(None)
        after_switch, _ = charge_point()
    finally:
        set_validation_engine(None)
    assert before._inbound.table is not after_switch._inbound.table
    async with running(before) as connection:
        reply = await answer(connection, "BootNotification", {"chargePointModel": "M"})
    assert reply[2:4] == [
        "OccurenceConstraintViolation",
        "BootNotification request: chargePointVendor: required property is missing",
    ]
    route = before._inbound.table.calls["BootNotification"]
    assert not hasattr(route.request, "fast")  # jsonschema's


def test_a_request_object_is_refused_as_a_send_after_it_was_sent_as_a_call() -> None:
    cp, _ = charge_point()
    heartbeat = v16.call.Heartbeat()
    table = cp._inbound.table
    table.exchange(heartbeat, MessageKind.REQUEST)  # compiled, and kept
    with pytest.raises(TypeError, match="expected a send payload object"):
        table.exchange(heartbeat, MessageKind.SEND)


async def test_frames_go_out_without_a_timeout_scope_each(monkeypatch: pytest.MonkeyPatch) -> None:
    cp, connection = charge_point()
    created: list[Any] = []

    def counted(make: Any) -> Any:
        def count(*args: Any, **kwargs: Any) -> Any:
            created.append(make)
            return make(*args, **kwargs)

        return count

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([2, "0", "BootNotification", BOOT_16]))  # the route
        await trio.testing.wait_all_tasks_blocked()
        assert len(connection.sent()) == 1
        monkeypatch.setattr(trio, "CancelScope", counted(trio.CancelScope))
        monkeypatch.setattr(trio, "move_on_after", counted(trio.move_on_after))
        for n in range(50):
            connection.deliver(json.dumps([2, str(n), "BootNotification", BOOT_16]))
        await trio.testing.wait_all_tasks_blocked()
        assert len(connection.sent()) == 50
        # The send timeout is the watchdog's: its alarm already covers them all.
        assert created == []
        connection.hang_up()


async def test_a_charge_point_that_was_not_started_has_no_tasks_to_run_handlers_in() -> None:
    # No path of its own for an unstarted ChargePoint: a handler that needs a task says why.
    cp, connection = charge_point()
    with pytest.raises(RuntimeError, match="not started"):
        await cp.route_message(json.dumps([2, "1", "Heartbeat", {}]))
    assert connection.sent() == []


async def test_a_connection_that_ended_is_freed_without_the_garbage_collector() -> None:
    # Its parts hold no reference back to it: no cycle keeps it, with its buffers, until a
    # collection (one that lived long would wait for a full one).
    cp, _ = charge_point()
    async with running(cp) as connection:
        await answer(connection, "BootNotification", BOOT_16)  # answered by the reader
        await answer(connection, "Heartbeat", {})  # in a task, with an @after hook
    ended = weakref.ref(cp)
    gc.disable()
    try:
        del cp
        assert ended() is None
    finally:
        gc.enable()

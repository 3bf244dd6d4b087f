"""A node's event recorder on its own (trio_ocpp.cluster._recorder): each charge point's budget,
big events, and the buffer's bounds, without a broker (autojump clock); what a consumer makes of
what it recorded."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from trio_ocpp import v201
from trio_ocpp._core.frames import Call, CallResult
from trio_ocpp.cluster import Event
from trio_ocpp.cluster._recorder import EventLimits, EventRecorder


def answered(recorder: EventRecorder, identity: str, data: str = "", count: int = 1) -> None:
    for _ in range(count):
        call = Call("1", "DataTransfer", {"vendorId": "v", "data": data})
        recorder.record(identity, "2.0.1", call, CallResult("1", {"status": "Accepted"}))


def recorder(**limits: Any) -> EventRecorder:
    return EventRecorder(frozenset({"DataTransfer"}), "node", EventLimits(**limits))


async def test_each_charge_point_has_a_budget_of_its_own(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    events = recorder(rate=2, burst=5)
    answered(events, "FLOODER", count=20)
    answered(events, "OTHER", count=5)  # untouched by the flood
    assert (events.statistics().recorded, events.statistics().rate_limited) == (10, 15)
    await trio.sleep(1)  # 2 units a second
    answered(events, "FLOODER", count=5)
    assert (events.statistics().recorded, events.statistics().rate_limited) == (12, 18)
    # Logged at the 1st, 2nd, 4th, 8th and 16th event not recorded, with the identity escaped.
    lines = [r.getMessage() for r in caplog.records]
    line = "FLOODER: over its event rate, {} events not recorded"
    assert lines == [line.format(n) for n in (1, 2, 4, 8, 16)]
    answered(events, "LINE\nBREAK", count=6)
    assert caplog.records[-1].getMessage().startswith("LINE\\nBREAK: over its event rate")


async def test_a_big_event_costs_one_unit_per_started_4_kib(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = recorder(rate=1, burst=10)
    answered(events, "CP", data="x" * 20_000)  # 5 units: 20,000 + the rest over 4 KiB units
    answered(events, "CP", data="x" * 40_000)  # 10 more: the budget goes below zero
    answered(events, "CP")
    assert events.statistics().rate_limited == 1
    await trio.sleep(6)  # paid back (5 s), and one unit
    answered(events, "CP", count=2)
    assert (events.statistics().recorded, events.statistics().rate_limited) == (3, 2)
    await trio.sleep(1)
    answered(events, "CP")
    assert events.statistics().recorded == 4


async def test_over_the_payload_limit_an_event_keeps_its_place_not_its_payloads(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = recorder(payload_limit=1000)
    answered(events, "CP", data="x" * 1000)
    answered(events, "CP", data="é" * 480)  # 480 characters, 960 bytes: over, with the rest
    fields = [dict(f) for f, _ in events._buffer]
    assert [(f["request"], f["response"], f["omitted"]) for f in fields] == [
        ("{}", "{}", str(len('{"vendorId":"v","data":""}') + 1000 + len('{"status":"Accepted"}'))),
        ("{}", "{}", str(len('{"vendorId":"v","data":""}') + 960 + len('{"status":"Accepted"}'))),
    ]
    assert events.statistics().payloads_omitted == 2


async def test_the_buffer_is_bounded_by_count_and_by_bytes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = recorder(buffer=3)
    answered(events, "CP", count=5)
    assert (events.statistics().buffered, events.statistics().buffer_full) == (3, 2)
    events = recorder(buffer_bytes=10_000)
    answered(events, "CP", data="x" * 3000, count=5)
    statistics = events.statistics()
    assert (statistics.buffered, statistics.buffer_full) == (3, 2)
    assert 9000 < statistics.buffered_bytes <= 10_000


async def test_budgets_that_are_full_again_are_forgotten(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = recorder(rate=10, burst=100)
    answered(events, "A", count=10)
    answered(events, "B", count=200)
    await trio.sleep(60)  # A is full again (10 s), B is not (100 events short, 10 s... 20 s)
    events._sweep(trio.current_time())
    assert set(events._budgets) == set()
    answered(events, "B", count=150)
    await trio.sleep(5)
    events._sweep(trio.current_time())
    assert set(events._budgets) == {"B"}


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="events_rate must be positive"):
        EventLimits(rate=0)


def read_back(events: EventRecorder, typed: bool = False) -> list[Event]:
    """The buffered events as a consumer gets them from the stream."""
    entries = [
        (f"{i}-0", {k.encode(): v.encode() for k, v in f})
        for i, (f, _) in enumerate(events._buffer)
    ]
    return [Event.from_entry(entry, typed) for entry in entries]


async def test_a_consumer_gets_the_payloads_as_the_handler_saw_them_beside_the_wire_form(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = EventRecorder(
        frozenset({"DataTransfer", "Vendor"}), "node", EventLimits(payload_limit=100)
    )
    request = {"vendorId": "v", "messageId": "m", "customData": {"vendorId": "v", "x": 1}}
    accepted = CallResult("1", {"status": "Accepted"})
    events.record("CP", "2.0.1", Call("1", "DataTransfer", request), accepted)
    events.record("CP", "2.0.1", Call("2", "Vendor", {"a": 1}), CallResult("2", {}))  # no class
    answered(events, "CP", data="x" * 100)  # over the payload limit
    plain, vendor, omitted = read_back(events)
    assert plain.request == request  # camelCase, as on the wire
    assert plain.call == v201.call.DataTransfer(
        vendor_id="v", message_id="m", custom_data={"vendor_id": "v", "x": 1}
    )
    assert plain.call_result == v201.call_result.DataTransfer(status="Accepted")
    assert (vendor.request, vendor.call, vendor.call_result) == ({"a": 1}, None, None)
    assert (omitted.request, omitted.call, omitted.call_result) == ({}, None, None)
    typed = read_back(events, typed=True)[0]
    assert isinstance(typed.call, v201.call.DataTransfer)
    assert isinstance(typed.call.custom_data, v201.datatypes.CustomDataType)
    assert typed.call.custom_data.extra == {"x": 1}
    assert typed.call_result.status is v201.enums.DataTransferStatusEnumType.accepted

"""The event stream under a flood, with big events and with Redis away (issue 23, item 5).

The red team's cases: one charge point sending MeterValues as fast as it could had the
stream (bounded by count, shared by all) trimmed within seconds, and a consumer group made
before VICTIM's billing events then read only the flooder's; valid 0.87 MB events grew Redis
by a gigabyte; with Redis away, the node's buffer (bounded by count) grew by 1.3 GB. Real
redis-server, real sockets; figures printed (``pytest -s``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import TIME, node, station, stream_length, used_memory
from helpers.redis_server import RedisServer

from trio_ocpp import v201
from trio_ocpp.cluster import Cluster, Event, EventStream, connect

BILLING = ["BootNotification", "TransactionEvent", "MeterValues", "DataTransfer"]


def meter_values() -> v201.call.MeterValues:
    sample = {"timestamp": TIME, "sampled_value": [{"value": 1.0}]}
    return v201.call.MeterValues(evse_id=1, meter_value=[sample])


def transaction(event_type: str, seq_no: int) -> v201.call.TransactionEvent:
    return v201.call.TransactionEvent(
        event_type=event_type,
        timestamp=TIME,
        trigger_reason="Authorized",
        seq_no=seq_no,
        transaction_info={"transaction_id": "T-VICTIM"},
    )


def boot() -> v201.call.BootNotification:
    station = {"model": "m", "vendor_name": "v"}
    return v201.call.BootNotification(charging_station=station, reason="PowerUp")


def data_transfer(size: int) -> v201.call.DataTransfer:
    return v201.call.DataTransfer(vendor_id="v", data="x" * size)


async def settled(cluster: Cluster) -> int:
    """The stream's length, once it stopped changing: the node appended what it recorded."""
    with trio.fail_after(10):
        length = -1
        while length != (length := await stream_length(cluster)):
            await trio.sleep(0.3)
    return length


async def read(events: EventStream, count: int) -> list[Event]:
    with trio.fail_after(10):
        return [await anext(events) for _ in range(count)]


async def test_a_flooding_charge_point_cannot_push_out_anothers_billing_events(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        connect(redis.url, events=BILLING, events_maxlen=2000) as a,
        node(a) as server,
        connect(redis.url) as app,
        app.events("billing", "b1") as events,  # made before VICTIM's events
        station(server, "VICTIM") as victim,
        station(server, "FLOODER") as flooder,
    ):
        memory_before = await used_memory(a)
        await victim.call(boot())
        await victim.call(transaction("Started", 0))
        flood = 4000
        started = time.perf_counter()
        for i in range(flood):
            await flooder.call(meter_values())
            if i == 300:
                await victim.call(transaction("Ended", 1))  # the billing event, mid-flood
        elapsed = time.perf_counter() - started
        got = await read(events, await settled(a))
        memory_after = await used_memory(a)
    mine = [(e.action, e.request.get("eventType")) for e in got if e.identity == "VICTIM"]
    assert mine == [
        ("BootNotification", None),
        ("TransactionEvent", "Started"),
        ("TransactionEvent", "Ended"),
    ], "VICTIM's events were trimmed before the group read them"
    statistics = a.event_statistics()
    flooded = sum(e.identity == "FLOODER" for e in got)
    # The flooder got its burst and its rate, and nothing more.
    assert 1000 <= flooded <= 1000 + 10 * elapsed + 1
    assert statistics.rate_limited == flood - flooded
    assert statistics.trimmed_unread == 0
    assert "FLOODER: over its event rate, 1 events not recorded" in caplog.text
    assert "FLOODER: over its event rate, 2048 events not recorded" in caplog.text
    assert "VICTIM: over its event rate" not in caplog.text
    print(
        f"\nflood: {flood / elapsed:,.0f} MeterValues/s sent for {elapsed:.1f} s; "
        f"{flooded} recorded ({flooded / elapsed:,.0f}/s), {statistics.rate_limited} not "
        f"({statistics.rate_limited / elapsed:,.0f}/s); Redis used_memory "
        f"{memory_before / 1e6:.1f} -> {memory_after / 1e6:.1f} MB; VICTIM's 3 events read"
    )


async def test_big_events_are_recorded_without_their_payloads(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        connect(redis.url, events=BILLING) as a,
        node(a) as server,
        connect(redis.url) as app,
        app.events("g", "c") as events,
        station(server, "BIG") as cp,
    ):
        before = await used_memory(a)
        count, size = 30, 870_000  # valid messages under the 1 MiB message limit
        for _ in range(count):
            await cp.call(data_transfer(size))
        await cp.call(data_transfer(1000))  # a small one is kept whole
        got = await read(events, count + 1)
        grown = await used_memory(a) - before
    print(f"\n{count} events of {size / 1e6:.2f} MB: Redis grew by {grown / 1e6:.2f} MB")
    assert grown < 5e6, f"Redis grew by {grown / 1e6:.1f} MB"
    big, small = got[0], got[-1]
    assert (big.action, big.identity, big.request, big.response) == ("DataTransfer", "BIG", {}, {})
    assert big.omitted > size
    assert small.omitted == 0 and small.request["data"] == "x" * 1000
    assert a.event_statistics().payloads_omitted == count
    assert f"BIG: a DataTransfer event of {big.omitted} bytes recorded without" in caplog.text


async def test_trimming_what_a_group_has_not_read_is_counted_and_logged(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        connect(redis.url, events=["Heartbeat"], events_maxlen=100) as a,
        node(a) as server,
        connect(redis.url) as app,
        app.events("billing", "b1"),  # made, then not read: it lags
        station(server, "CP") as cp,
    ):
        for _ in range(300):
            await cp.call(v201.call.Heartbeat())
        length = await settled(a)
        assert "the event stream was trimmed before consumer groups read" in caplog.text
        assert "(billing: " in caplog.text
        assert length == 100
        assert a.event_statistics().trimmed_unread == 200


async def test_the_stream_is_bounded_in_bytes(redis: RedisServer) -> None:
    options: dict[str, Any] = {"events": BILLING, "events_max_bytes": 300_000}
    async with connect(redis.url, **options) as a, node(a) as server:
        async with station(server, "CP") as cp:
            for _ in range(40):
                await cp.call(data_transfer(20_000))
            with trio.fail_after(5):
                while a.event_statistics().appended < 40:
                    await trio.sleep(0.02)
        async with connect(redis.url) as app, app.events("g", "c", start="0") as events:
            kept = await read(events, await stream_length(a))
    assert 12 <= len(kept) <= 15  # 300,000 bytes of about 20,100 each
    assert sum(len(e.request["data"]) for e in kept) <= 300_000


async def test_the_outage_buffer_is_bounded_in_bytes(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    options: dict[str, Any] = {"events": BILLING, "events_buffer_bytes": 1_000_000}
    async with (
        connect(redis.url, **options) as a,
        node(a) as server,
        station(server, "CP") as cp,
    ):
        redis.stop()
        for _ in range(30):
            await cp.call(data_transfer(100_000))
        statistics = a.event_statistics()
        assert statistics.buffered_bytes <= 1_000_000
        assert statistics.buffered == statistics.recorded == 9
        assert statistics.buffer_full == 21
        assert "event buffer full: 16 events dropped" in caplog.text
        redis.start()
        with trio.fail_after(15):  # once Redis is back, what was held goes in
            while a.event_statistics().appended < 9:
                await trio.sleep(0.05)
        assert a.event_statistics().buffered_bytes == 0

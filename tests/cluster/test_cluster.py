"""The cluster in one process: nodes, calls across them, newest wins, events, a Redis restart.

Each node is a ``trio_ocpp.cluster.connect()`` of its own, as in separate processes; the broker
is a real redis-server (tests/redis_server.py). Real processes: test_cluster_processes.py.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import broker, get_variables, members_become, node, station, two_servers
from helpers.redis_server import RedisServer

from trio_ocpp import exceptions, v16, v201
from trio_ocpp.cluster import ClusterUnavailableError, Event, NotConnectedError, connect


async def test_any_node_calls_a_charge_point_of_another_with_call_semantics(
    redis: RedisServer,
) -> None:
    async with connect(redis.url) as a, connect(redis.url) as caller, node(a) as server:
        assert a.node_id != caller.node_id
        async with station(server, "CP 1"):
            await members_become(caller, {"CP 1": a.node_id})
            with trio.fail_after(5):
                result = await caller.call("CP 1", get_variables())
            assert isinstance(result, v201.call_result.GetVariables)
            assert result.get_variable_result[0]["attribute_value"] == "CP 1"
            # The peer's CALLERROR, as its OCPPError.
            with pytest.raises(exceptions.InternalError):
                await caller.call("CP 1", v201.call.Reset(type="Immediate"))
            assert await caller.call("CP 1", v201.call.Reset(type="Immediate"), True) is None
            # No answer in time, the wait for the connection's turn included.
            with trio.fail_after(3), pytest.raises(exceptions.CallTimeoutError):
                await caller.call("CP 1", v201.call.GetLocalListVersion(), timeout=0.5)
            # Checked before it leaves: the schema error, not "nobody holds it".
            with pytest.raises(exceptions.OccurrenceConstraintViolationError):
                await caller.call("nobody", v201.call.GetVariables(get_variable_data=[]))
            with pytest.raises(TypeError, match=r"speaks 2\.0\.1"):
                await caller.call("CP 1", v16.call.Heartbeat())
            # The node that holds it calls it too.
            assert (await a.call("CP 1", get_variables())).get_variable_result
        # Gone: removed from the membership at once, and calls fail at once.
        await members_become(caller, {})
        with trio.fail_after(0.5), pytest.raises(NotConnectedError, match="No node holds"):
            await caller.call("CP 1", get_variables())


async def test_newest_connection_wins_across_nodes(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        two_servers(redis.url, "CP") as (a, b, server_a, server_b),
        station(server_b, "CP"),
    ):
        await members_become(b, {"CP": b.node_id})
        with trio.fail_after(5):
            while "CP" in server_a.charge_points:  # the older connection was closed
                await trio.sleep(0.02)
        # Node a gave up the key without removing b's: it has no release of it to make.
        assert "CP" not in a._membership._releases and a._membership.get("CP") is None
        assert await a.charge_points() == {"CP": b.node_id}
        assert (await a.call("CP", get_variables())).get_variable_result
    # The log names the identity and both connections: node, and when each was accepted.
    (line,) = [r.getMessage() for r in caplog.records if "replaced by a newer one" in r.message]
    assert line.startswith(f"CP: the connection here (node {a.node_id}, accepted 20")
    assert f"replaced by a newer one (node {b.node_id}, accepted 20" in line


async def test_a_node_that_stopped_listening_fails_calls_at_once(redis: RedisServer) -> None:
    async with connect(redis.url) as caller:
        async with connect(redis.url, membership_ttl=30) as a:
            # A claim as a node that dies would leave it: recorded, then nobody listens.
            await broker(a).claim([("CP", f"{a.node_id} 1")], 30)
        await members_become(caller, {"CP": a.node_id})
        with trio.fail_after(0.5), pytest.raises(NotConnectedError, match="is gone"):
            await caller.call("CP", get_variables())


async def test_the_keys_of_a_node_that_died_expire(redis: RedisServer) -> None:
    async with connect(redis.url) as caller:
        await broker(caller).claim([("CP", "dead-node 1")], 0.3)
        assert await caller.charge_points() == {"CP": "dead-node"}
        await members_become(caller, {})  # within the 0.3 s expiry (and the poll's time)


async def test_a_node_changes_only_the_keys_it_still_holds(redis: RedisServer) -> None:
    async with connect(redis.url) as a, connect(redis.url) as b:
        mine, theirs = f"{a.node_id} 1", f"{b.node_id} 2"
        await broker(a).claim([("CP", mine), ("OTHER", mine)], 10)
        await broker(b).claim([("CP", theirs)], 10)  # a newer connection on b
        await broker(a).release([("CP", mine)])
        assert await a.charge_points() == {"CP": b.node_id, "OTHER": a.node_id}
        # A refresh extends what it holds, and says what a newer connection took.
        assert await broker(a).claim([("OTHER", mine), ("CP", mine)], 10) == [(1, theirs)]
        await broker(a).release([("OTHER", mine)])
        assert await a.charge_points() == {"CP": b.node_id}


async def test_malformed_cluster_messages_are_dropped(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        connect(redis.url) as a,
        connect(redis.url) as caller,
        node(a) as server,
        station(server, "CP"),
    ):
        call = b'{"t": "call", "id": 1, "from": "x", "deadline": 1e300}'  # the rest missing
        for junk in (b"not json", b'{"t": "call"}', b'{"t": "call", "id": 1, "from": "x"}', call):
            await broker(caller).send(a.node_id, junk)
        await members_become(caller, {"CP": a.node_id})
        assert (await caller.call("CP", get_variables())).get_variable_result
    assert "dropping a malformed cluster message" in caplog.text
    assert "a call from 'x' failed" in caplog.text


async def test_answered_calls_reach_consumers_at_least_once(redis: RedisServer) -> None:
    options: dict[str, Any] = {"events": ["Heartbeat", "BootNotification"]}
    async with (
        connect(redis.url, **options) as a,
        node(a) as server,
        station(server, "CP") as cp,
        connect(redis.url) as app,
    ):
        async with app.events("billing", "b1") as events:
            boot = v201.call.BootNotification(
                charging_station={"model": "m", "vendor_name": "v"}, reason="PowerUp"
            )
            await cp.call(boot)
            for _ in range(3):
                await cp.call(v201.call.Heartbeat())
            await cp.call(v201.call.Authorize(id_token={"id_token": "t", "type": "Central"}))
            with trio.fail_after(5):
                got = [await anext(events) for _ in range(4)]
            assert [e.action for e in got] == ["BootNotification"] + ["Heartbeat"] * 3
            first = got[0]
            assert (first.identity, first.node) == ("CP", a.node_id)
            assert first.ocpp_version == "2.0.1"
            # As on the wire, and as the node's handler saw them: its keyword arguments, and
            # what it returned.
            assert first.request["chargingStation"] == {"model": "m", "vendorName": "v"}
            assert first.response["status"] == "Accepted"
            assert first.call == boot
            assert first.call.charging_station == {"model": "m", "vendor_name": "v"}
            assert isinstance(first.call_result, v201.call_result.BootNotification)
            assert (first.call_result.status, first.call_result.interval) == ("Accepted", 10)
            assert got[1].call == v201.call.Heartbeat()
            await events.ack(*got[:2])
        # While the consumer is away (the last two were never acknowledged), one more.
        await cp.call(v201.call.Heartbeat())
        async with app.events("billing", "b1") as events:
            with trio.fail_after(5):
                again = [await anext(events) for _ in range(3)]
    assert [e.id for e in again[:2]] == [e.id for e in got[2:]]
    assert again[2].action == "Heartbeat" and again[2].id not in {e.id for e in got}


async def test_events_a_consumer_left_unacknowledged_go_to_another(redis: RedisServer) -> None:
    async with (
        connect(redis.url, events=["Heartbeat"]) as a,
        node(a) as server,
        station(server, "CP") as cp,
        connect(redis.url) as app,
    ):
        async with app.events("g", "gone", claim_idle=None) as events:
            await cp.call(v201.call.Heartbeat())
            with trio.fail_after(5):
                lost = await anext(events)  # and never acknowledged: this consumer is gone
        async with app.events("g", "other", claim_idle=0.3) as events:
            with trio.fail_after(5):
                taken = await anext(events)
            await events.ack(taken)
        assert taken.id == lost.id


async def test_the_stream_is_bounded(redis: RedisServer) -> None:
    async with connect(redis.url, events=["Heartbeat"], events_maxlen=100) as a, node(a) as server:
        async with station(server, "CP") as cp:
            for _ in range(600):
                await cp.call(v201.call.Heartbeat())
            with trio.fail_after(5):
                while a.event_statistics().appended < 600:
                    await trio.sleep(0.02)
        redis_client = broker(a)._client  # type: ignore[attr-defined]
        length = await redis_client.xlen(broker(a)._stream)  # type: ignore[attr-defined]
        assert length == 100


async def test_a_redis_restart_fails_cluster_calls_clearly_and_recovers(
    redis: RedisServer,
) -> None:
    async with (
        connect(redis.url, membership_ttl=1.5, events=["Heartbeat"]) as a,
        connect(redis.url) as caller,
        node(a) as server,
        station(server, "CP") as cp,
        caller.events("g", "c") as events,
        trio.open_nursery() as nursery,
    ):
        got: list[Event] = []

        async def consume() -> None:  # reading all along, through the outage
            got.append(await anext(events))

        nursery.start_soon(consume)
        await members_become(caller, {"CP": a.node_id})
        redis.stop()
        with trio.fail_after(3), pytest.raises(ClusterUnavailableError):
            await caller.call("CP", get_variables())
        # The node goes on serving its own connections.
        assert await cp.call(v201.call.Heartbeat())
        redis.start()
        with trio.fail_after(10):
            while True:
                try:
                    result = await caller.call("CP", get_variables())
                    break
                except (ClusterUnavailableError, NotConnectedError):
                    await trio.sleep(0.1)
            assert result.get_variable_result[0]["attribute_value"] == "CP"
            # The consumer waited through it and reads the new stream.
            await cp.call(v201.call.Heartbeat())
            while not got:
                await trio.sleep(0.05)
        assert (got[0].identity, got[0].action) == ("CP", "Heartbeat")


def test_without_glide_the_import_says_what_to_install() -> None:
    code = "import sys; sys.modules['glide'] = None; import trio_ocpp.cluster"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert 'pip install "trio-ocpp[redis]"' in run.stderr

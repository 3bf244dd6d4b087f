"""Deadlines travel with cluster calls (issue 23, item 6): a call that its caller saw time out
never reaches the charge point, however late the node holding it reads it.

The red team's case: the node holding the charge point stalled longer than the caller's
timeout; the caller raised CallTimeoutError, and the charge point still got the CALL when the
node came back. Here the node's subscriber stalls (its messages wait in the broker client, as
they wait in a socket while a process is stuck), on a real redis-server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import broker, get_variables, held_elsewhere
from helpers.redis_server import RedisServer

from trio_ocpp import exceptions, v201
from trio_ocpp.cluster import Cluster


async def stall_subscriber(cluster: Cluster, caller: Cluster) -> trio.Event:
    """Make ``cluster``'s subscriber stop reading until the returned event is set."""
    resume = trio.Event()
    receive: Callable[[], Awaitable[bytes]] = broker(cluster).receive

    async def stalled() -> bytes:
        await resume.wait()
        return await receive()

    broker(cluster).receive = stalled  # type: ignore[method-assign]
    # The subscriber is waiting in the real receive(): one message, ignored, gets it to ours.
    await broker(caller).send(cluster.node_id, b'{"t": "wake up"}')
    await trio.sleep(0.1)
    return resume


async def test_a_call_read_after_its_deadline_never_reaches_the_charge_point(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with held_elsewhere(redis.url, "CP") as (a, caller, _, cp):
        resume = await stall_subscriber(a, caller)
        started = trio.current_time()
        with trio.fail_after(5), pytest.raises(exceptions.CallTimeoutError):
            await caller.call("CP", v201.call.Reset(type="Immediate"), timeout=0.5)
        waited = trio.current_time() - started
        resume.set()  # the node comes back and reads the call, late
        with trio.fail_after(2):  # the node read the call: it sent it, or said why not
            while not cp.received and "too late, not sent" not in caplog.text:
                await trio.sleep(0.02)
        assert cp.received == [], "the charge point got a CALL its caller saw time out"
        assert "'CP': a Reset call from" not in caplog.text  # escaped, not repr'd
        assert "CP: a Reset call from" in caplog.text and "too late, not sent" in caplog.text
        # The timeout covers the whole path (it was timeout + 2 s).
        assert waited < 0.5 + 0.25
        # The node serves calls as before.
        with trio.fail_after(5):
            assert (await caller.call("CP", get_variables())).get_variable_result
        assert cp.received == ["GetVariables"]


async def test_a_call_waiting_for_the_connections_turn_is_not_sent_after_its_deadline(
    redis: RedisServer,
) -> None:
    async with held_elsewhere(redis.url, "CP") as (_, caller, _, cp):

        async def slow() -> None:  # holds the connection's one CALL for 1 s
            with pytest.raises(exceptions.CallTimeoutError):
                await caller.call("CP", v201.call.GetLocalListVersion(), timeout=1)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow)
            while not cp.received:
                await trio.sleep(0.01)
            with trio.fail_after(2), pytest.raises(exceptions.CallTimeoutError):
                await caller.call("CP", get_variables(), timeout=0.3)
        # The connection's turn came after the deadline: a call made now queues behind a stale
        # one, if there were one, and goes out after it.
        with trio.fail_after(5):
            assert (await caller.call("CP", get_variables())).get_variable_result
        assert cp.received == ["GetLocalListVersion", "GetVariables"]

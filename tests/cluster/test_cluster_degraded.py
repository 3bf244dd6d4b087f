"""A node whose Redis is away when it starts (issue 18, item 8): it serves its own charge points,
waits for Redis with a log line per try (its connections never try), and joins once Redis is
there. Real redis-server started late, real sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import Station, get_variables, node, station
from helpers.redis_server import RedisServer

from trio_ocpp import v201
from trio_ocpp.cluster import ClusterUnavailableError, Event, _cluster, connect
from trio_ocpp.cluster._broker import Broker

STATIONS = 30


@pytest.fixture
def redis_later() -> Iterator[RedisServer]:
    """A redis-server of the test's own, on a free port, not started yet."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


def boot() -> v201.call.BootNotification:
    station = {"model": "m", "vendor_name": "v"}
    return v201.call.BootNotification(charging_station=station, reason="PowerUp")


async def test_a_node_started_without_redis_serves_alone_then_joins(
    redis_later: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, "trio_ocpp.cluster")
    tries: list[str] = []  # each broker a node opens: its own, and its event readers'
    opener = _cluster.redis_opener

    def counting(url: str, prefix: str) -> Callable[[str], AbstractAsyncContextManager[Broker]]:
        open_broker = opener(url, prefix)

        def counted(node: str) -> AbstractAsyncContextManager[Broker]:
            tries.append(node)
            return open_broker(node)

        return counted

    monkeypatch.setattr(_cluster, "redis_opener", counting)
    url = redis_later.url
    async with (
        connect(url, events=["BootNotification"], join_retry=0.05) as a,
        node(a) as server,
        trio.open_nursery() as nursery,
        AsyncExitStack() as stations,
    ):
        with pytest.raises(ClusterUnavailableError, match="not joined"):
            await a.charge_points()
        with trio.fail_after(0.5), pytest.raises(ClusterUnavailableError, match="not joined"):
            await a.call("CP0", get_variables())
        # Its own charge points are served: each connects and has its BootNotification answered.
        connected: list[Station] = []
        for i in range(STATIONS):
            connected.append(await stations.enter_async_context(station(server, f"CP{i}")))
        for cp in connected:
            assert (await cp.call(boot())).status == "Accepted"
        # The connections never tried Redis themselves: the one joining task did, now and then.
        own = [n for n in tries if n == a.node_id]
        assert 1 <= len(own) < STATIONS / 3
        waiting = [r for r in caplog.records if "cannot reach Redis" in r.getMessage()]
        assert len(own) - 1 <= len(waiting) <= len(own)  # a line per failed try; one may be on
        assert all(r.exc_info is None for r in waiting)
        assert waiting[0].getMessage().startswith(f"node {a.node_id}: cannot reach Redis, trying")

        # A consumer that starts now waits for Redis too.
        got: list[Event] = []

        async def consume() -> None:
            async with a.events("billing", "b1", start="0") as events:
                async for event in events:
                    got.append(event)

        nursery.start_soon(consume)
        redis_later.start()
        # Joined: its charge points are recorded, and callable from another node.
        async with connect(url) as caller:
            expected = {f"CP{i}": a.node_id for i in range(STATIONS)}
            with trio.fail_after(10):
                while await caller.charge_points() != expected:
                    await trio.sleep(0.05)
            result = await caller.call("CP7", get_variables())
            assert result.get_variable_result[0]["attribute_value"] == "CP7"
            assert connected[7].received == ["GetVariables"]
            # The BootNotifications answered while alone were held, and appended once joined.
            with trio.fail_after(10):
                while len(got) < STATIONS:
                    await trio.sleep(0.05)
        assert {e.identity for e in got} == set(expected)
        assert {e.action for e in got} == {"BootNotification"}
        nursery.cancel_scope.cancel()
    (joined,) = [r for r in caplog.records if r.getMessage().startswith(f"node {a.node_id} joi")]
    assert joined.levelno == logging.WARNING  # the end of its warnings
    line = joined.getMessage()
    assert line.startswith(f"node {a.node_id} joined the cluster, ")
    assert line.endswith(f"s after its first try (charge points here: {STATIONS})")


async def test_a_wrong_url_is_an_error_at_once_not_a_wait() -> None:
    with trio.fail_after(1), pytest.raises(ValueError, match="not a redis:// URL"):
        async with connect("http://127.0.0.1:1"):
            pass

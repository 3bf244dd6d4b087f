"""The cluster's event stream lag: from a node recording an answered CALL to a consumer of the
group getting it, as a histogram by group (real redis-server, real sockets)."""

from __future__ import annotations

import time

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')
pytest.importorskip("prometheus_client")

from helpers.cluster_parts import node, station
from helpers.redis_server import RedisServer
from prometheus_client import CollectorRegistry

from trio_ocpp import v201
from trio_ocpp.cluster import connect
from trio_ocpp.observability.metrics import Metrics

LAG = "ocpp_cluster_event_lag_seconds"


async def test_a_consumer_behind_shows_its_groups_lag(redis: RedisServer) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    boot = v201.call.BootNotification(
        charging_station={"model": "m", "vendor_name": "v"}, reason="PowerUp"
    )
    async with (
        connect(redis.url, events=["BootNotification"]) as a,
        node(a) as server,
        connect(redis.url) as app,
    ):
        app.watchers.append(metrics)
        async with app.events("billing", "b1") as events, station(server, "CP1") as cp:
            await cp.call(boot)
            recorded = time.time()
            await trio.sleep(0.3)  # the consumer is behind: the lag must show it
            with trio.fail_after(10):
                event = await anext(events)
            delivered = time.time()
            await events.ack(event)

    labels = {"group": "billing"}
    assert registry.get_sample_value(f"{LAG}_count", labels) == 1
    lag = registry.get_sample_value(f"{LAG}_sum", labels)
    assert lag is not None
    # Recorded once the CALLRESULT went out, so at most from just before `recorded`.
    assert 0.3 <= lag <= delivered - recorded + 0.1
    assert registry.get_sample_value(f"{LAG}_bucket", {**labels, "le": "0.25"}) == 0

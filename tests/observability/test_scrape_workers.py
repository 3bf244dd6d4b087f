"""One scrape of ``python -m trio_ocpp --workers 2 --cluster ... --metrics ...`` with 100 charge
points: every worker's figures, summed by the supervisor from the files they
write, read with prometheus_client's parser."""

from __future__ import annotations

import sys
import urllib.request

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')
pytest.importorskip("prometheus_client")

from helpers.cluster_parts import Station, get_variables
from helpers.processes import stop
from helpers.redis_server import RedisServer, free_port
from helpers.samples import Samples, parse, total
from prometheus_client import CollectorRegistry
from trio_websocket import ConnectionRejected, open_websocket_url

import trio_ocpp
from trio_ocpp.cluster import connect
from trio_ocpp.observability.metrics import Metrics

STATIONS = 100


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse(response.read().decode())


async def test_one_scrape_shows_every_workers_charge_points(redis: RedisServer) -> None:
    port, metrics_port = free_port(), free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--cluster", redis.url, "--log-level", "WARNING"]
    command += ["--metrics", f"127.0.0.1:{metrics_port}"]
    process = await trio.lowlevel.open_process(command)
    registry = CollectorRegistry()
    app_metrics = Metrics(registry=registry)
    try:
        async with connect(redis.url) as app, trio.open_nursery() as nursery:
            app.watchers.append(app_metrics)
            url = f"ws://127.0.0.1:{port}/"
            clients = [
                trio_ocpp.Client(url, Station, identity=f"CP{i}", retry_backoff_wait_minimum=0.2)
                for i in range(STATIONS)
            ]
            for client in clients:
                nursery.start_soon(client.run)
            with trio.fail_after(30):
                while len(present := await app.charge_points()) < STATIONS:
                    await trio.sleep(0.05)
            for identity in present:
                await app.call(identity, get_variables())
            with pytest.raises(ConnectionRejected):  # an identity too long for 2.x
                async with open_websocket_url(url + "X" * 49, subprotocols=["ocpp2.0.1"]):
                    pass

            # Each worker writes its figures once a second: wait for both workers' last ones.
            with trio.fail_after(10):
                while True:
                    found = await trio.to_thread.run_sync(scrape, metrics_port)
                    refused = found["ocpp_handshakes_refused_total"]
                    calls = found["ocpp_outbound_call_duration_seconds_count"]
                    if total(refused, reason="identity") == 1 and total(calls) == STATIONS:
                        break
                    await trio.sleep(0.05)
            connected = found["ocpp_connected_charge_points"]
            assert total(connected, version="2.0.1") == STATIONS
            # By node: both workers' nodes, each with its own charge points.
            by_node = {labels["node"]: v for labels, v in connected if v}
            assert set(by_node) == set(present.values())
            assert len(by_node) == 2
            assert total(found["ocpp_connections_opened_total"], version="2.0.1") == STATIONS
            frames = found["ocpp_frames_total"]
            assert total(frames, direction="out", type="call", action="GetVariables") == STATIONS
            assert total(frames, direction="in", type="callresult") == STATIONS
            assert total(calls, action="GetVariables") == STATIONS
            for client in clients:
                await client.aclose()
    finally:
        await stop(process)
    # The caller's side: the cluster calls, timed by outcome.
    labels = {"action": "GetVariables", "outcome": "result"}
    count = registry.get_sample_value("ocpp_cluster_call_duration_seconds_count", labels)
    assert count == STATIONS

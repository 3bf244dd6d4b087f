"""Prometheus metrics fed by the observer and the server's refusals, read back through
prometheus_client's own exposition parser, as a scrape would see them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from helpers.cluster_parts import Csms, Station, get_variables
from trio_websocket import ConnectionRejected, open_websocket_url

from trio_ocpp.testing import serving

pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import trio_ocpp
from trio_ocpp.exceptions import CallTimeoutError
from trio_ocpp.observability.metrics import Metrics
from trio_ocpp.v201 import call


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def wait_until(condition: Any) -> None:
    with trio.fail_after(5):
        while not condition():
            await trio.sleep(0.01)


async def test_a_servers_traffic_and_refusals_are_counted_with_bounded_labels() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry, node="n1")
    async with serving(Csms, observers=[metrics]) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with trio_ocpp.connect(url, Station, identity="CP1") as cp:
            await cp.call(call.Heartbeat())
            await wait_until(lambda: server.get("CP1") is not None)
            central = server.get("CP1")
            assert central is not None
            await central.call(get_variables())
            with pytest.raises(CallTimeoutError):
                await central.call(call.GetLocalListVersion(), timeout=0.05)
            await central.call(call.Reset(type="Immediate"), suppress=True)  # InternalError
            scrape = samples(registry)
            connected = "ocpp_connected_charge_points"
            assert value(scrape, connected, version="2.0.1", node="n1") == 1
        # A peer's own inventions: an unknown action, something that is no frame.
        async with open_websocket_url(url + "RAW", subprotocols=["ocpp2.0.1"]) as ws:
            await ws.send_message(json.dumps([2, "1", "NoSuchAction", {}]))
            assert json.loads(await ws.get_message())[0] == 4
            await ws.send_message("not json")
            await ws.get_message()  # a CALLERROR with the id unknown
        # Refused: an identity too long for 2.x; a subprotocol nobody speaks.
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(url + "X" * 49, subprotocols=["ocpp2.0.1"]):
                pass
        async with open_websocket_url(url + "CP2", subprotocols=["ocpp9"]) as ws:
            with pytest.raises(Exception):  # noqa: B017 the server closes it
                await ws.get_message()
        await wait_until(
            lambda: value(samples(registry), connected, version="2.0.1", node="n1") == 0
        )

    scrape = samples(registry)
    assert value(scrape, "ocpp_connections_opened_total", version="2.0.1") == 2
    assert value(scrape, "ocpp_connections_closed_total", code="1000") == 2
    frames = "ocpp_frames_total"
    assert value(scrape, frames, direction="in", type="call", action="Heartbeat") == 1
    assert value(scrape, frames, direction="out", type="call", action="GetVariables") == 1
    # Answers by the action of the CALL they answer.
    assert value(scrape, frames, direction="in", type="callresult", action="GetVariables") == 1
    assert value(scrape, frames, direction="out", type="callresult", action="Heartbeat") == 1
    assert value(scrape, frames, direction="in", type="callerror", action="Reset") == 1
    assert value(scrape, frames, direction="out", type="callerror", action="other") == 1
    assert value(scrape, frames, direction="in", type="call", action="other") == 1
    assert value(scrape, frames, direction="in", type="invalid", action="") == 1
    errors = "ocpp_call_errors_total"
    assert value(scrape, errors, direction="in", code="InternalError") == 1
    assert value(scrape, errors, direction="out", code="NotImplemented") == 1
    handled = "ocpp_inbound_handler_duration_seconds_count"
    assert value(scrape, handled, action="Heartbeat") == 1
    assert value(scrape, handled, action="other") == 1
    round_trip = "ocpp_outbound_call_duration_seconds"
    assert value(scrape, f"{round_trip}_count", action="GetVariables") == 1
    assert value(scrape, f"{round_trip}_bucket", action="GetVariables", le="60.0") == 1
    assert value(scrape, f"{round_trip}_bucket", action="GetVariables", le="0.0001") == 0
    assert value(scrape, "ocpp_outbound_calls_timed_out_total", action="GetLocalListVersion") == 1
    refused = "ocpp_handshakes_refused_total"
    assert value(scrape, refused, reason="identity") == 1
    assert value(scrape, refused, reason="subprotocol") == 1
    assert value(scrape, refused, reason="auth") == 0  # shown, never happened
    # No identity anywhere, and actions only from the schemas.
    assert not any("CP1" in str(labels) or "NoSuchAction" in str(labels) for _, labels in scrape)

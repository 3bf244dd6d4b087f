"""OpenTelemetry spans: one per exchange, and a cluster call continued on the node that holds
the charge point, through the trace context carried in the cluster message (two nodes on a
real redis-server, the SDK's in-memory exporter)."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import get_variables, members_become, node, station
from helpers.redis_server import RedisServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from trio_ocpp.cluster import connect
from trio_ocpp.exceptions import CallTimeoutError
from trio_ocpp.observability.tracing import Tracing
from trio_ocpp.v201 import call


def tracing() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider), exporter


def named(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


async def test_a_cross_node_call_is_one_trace(redis: RedisServer) -> None:
    # Each node its own tracer provider, as two processes would have: only the message joins them.
    held, held_spans = tracing()
    calling, calling_spans = tracing()
    async with connect(redis.url) as holder, connect(redis.url) as caller, node(holder) as server:
        server.add_observer(held)
        holder.watchers.append(held)
        caller.watchers.append(calling)
        async with station(server, "CP1") as cp:
            await members_become(caller, {"CP1": holder.node_id})
            result = await caller.call("CP1", get_variables())
            assert result.get_variable_result[0]["attribute_value"] == "CP1"
            with pytest.raises(CallTimeoutError):
                await caller.call("CP1", call.GetLocalListVersion(), timeout=0.5)
            await cp.call(call.Heartbeat())

    sent = named(calling_spans.get_finished_spans(), "cluster call GetVariables")
    spans = held_spans.get_finished_spans()
    served = named(spans, "cluster serve GetVariables")
    exchange = named(spans, "OCPP GetVariables")
    assert sent.kind is SpanKind.CLIENT and served.kind is SpanKind.SERVER
    assert sent.context is not None and served.context is not None and exchange.context is not None
    # One trace: app -> (Redis) -> node -> charge point.
    trace_id = sent.context.trace_id
    assert served.context.trace_id == exchange.context.trace_id == trace_id
    assert served.parent is not None and served.parent.span_id == sent.context.span_id
    assert exchange.parent is not None and exchange.parent.span_id == served.context.span_id
    assert exchange.kind is SpanKind.CLIENT
    attributes = dict(exchange.attributes or {})
    assert attributes["ocpp.identity"] == "CP1"
    assert attributes["ocpp.version"] == "2.0.1"
    assert attributes["ocpp.outcome"] == "result"
    assert isinstance(attributes["ocpp.message_id"], str)
    assert exchange.start_time is not None and exchange.end_time is not None
    assert served.start_time is not None and served.end_time is not None
    assert served.start_time <= exchange.start_time <= exchange.end_time <= served.end_time
    # What failed says so: the timed-out call on both sides.
    timed_out = named(calling_spans.get_finished_spans(), "cluster call GetLocalListVersion")
    assert timed_out.status.status_code is StatusCode.ERROR
    # The charge point's own CALL: an inbound span of its own.
    heartbeat = named(spans, "OCPP Heartbeat")
    assert heartbeat.kind is SpanKind.SERVER
    assert dict(heartbeat.attributes or {})["ocpp.direction"] == "inbound"

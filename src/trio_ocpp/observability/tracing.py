"""OpenTelemetry spans of OCPP exchanges and cluster calls (``pip install trio-ocpp[tracing]``).

::

    tracing = Tracing()                       # the global tracer provider, or tracer_provider=
    server = trio_ocpp.Server(CentralSystem, observers=[tracing], cluster=node)
    node.watchers.append(tracing)             # cluster calls: one trace across the nodes

Only the OpenTelemetry API is used: the application installs an SDK and an exporter (without
one, spans cost next to nothing). :class:`Tracing` is an :class:`~trio_ocpp.Observer`: each
exchange, inbound (``SERVER``) or outbound (``CLIENT``), becomes a span once it completed,
with the times it started and ended, the action, identity, version, message id and outcome.
An outbound call's span is a child of the span current where ``call()`` was awaited.

As a cluster call watcher, it wraps a call through the cluster in a ``CLIENT`` span whose
context travels with the call (W3C trace context, through the configured propagator), and the
node that holds the charge point continues it in a ``SERVER`` span, under which the charge
point's own exchange is recorded: app -> broker -> node -> charge point, one trace id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import __version__
from .._core.frames import CallError
from .._runtime.observe import INBOUND, RESULT, ConnectionInfo, ExchangeRecord, Observer

__all__ = ["Tracing"]

_NS = 1_000_000_000


class Tracing(Observer):
    """Spans of exchanges and of cluster calls; see the module docstring."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("trio_ocpp", __version__, tracer_provider)

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        inbound = record.direction is INBOUND
        start = int(record.started_at * _NS)
        attributes: dict[str, Any] = {
            "rpc.system": "ocpp",
            "rpc.method": record.call.action,
            "ocpp.identity": connection.identity,
            "ocpp.version": connection.version,
            "ocpp.message_id": record.call.unique_id,
            "ocpp.direction": record.direction.value,
            "ocpp.outcome": record.outcome.value,
        }
        if isinstance(record.reply, CallError):
            attributes["ocpp.error_code"] = record.reply.error_code
        span = self._tracer.start_span(
            f"OCPP {record.call.action}",
            kind=SpanKind.SERVER if inbound else SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
        )
        if record.outcome is not RESULT:
            span.set_status(Status(StatusCode.ERROR, record.outcome.value))
        span.end(end_time=start + int(record.latency * _NS))

    # -- the cluster's call watcher (trio_ocpp.cluster: cluster.watchers.append(tracing)) ----

    @contextlib.contextmanager
    def sending(
        self, identity: str, version: str, action: str, carried: dict[str, str]
    ) -> Iterator[None]:
        with self._tracer.start_as_current_span(
            f"cluster call {action}", kind=SpanKind.CLIENT, attributes=_call(identity, action)
        ):
            propagate.inject(carried)
            yield

    @contextlib.contextmanager
    def serving(
        self, identity: str, version: str, action: str, carried: Mapping[str, str]
    ) -> Iterator[None]:
        with self._tracer.start_as_current_span(
            f"cluster serve {action}",
            context=propagate.extract(carried),
            kind=SpanKind.SERVER,
            attributes=_call(identity, action),
        ):
            yield


def _call(identity: str, action: str) -> dict[str, Any]:
    return {"rpc.system": "ocpp", "rpc.method": action, "ocpp.identity": identity}

"""Prometheus metrics of a central system (``pip install trio-ocpp[metrics]``).

::

    metrics = Metrics()                       # registers in prometheus_client's REGISTRY
    server = trio_ocpp.Server(CentralSystem, observers=[metrics])
    prometheus_client.start_http_server(9100)

:class:`Metrics` is an :class:`~trio_ocpp.Observer`: connections, frames, exchanges and refused
handshakes are counted as they happen, on the connection's task, with no I/O. Labels are
bounded: no identity, actions only of the version's schemas, error and close codes only of
the known ones; anything else is ``"other"`` (``_labels.py``). Each label set's child is made
once and kept: a frame costs a dict look-up and an increment.

Serving them, and several processes in one scrape: :mod:`trio_ocpp.observability.scrape`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from .._core import errors
from .._core.frames import Call, CallError, CallResultError, Frame, Send
from .._runtime.observe import (
    REFUSALS,
    ConnectionInfo,
    Direction,
    ExchangeRecord,
    Observer,
    Outcome,
)
from . import _labels as labels

__all__ = ["BUCKETS", "Metrics"]

#: Seconds, from 0.1 ms to 60 s: a handler that answers from memory to a call that waits for
#: a charge point on a slow mobile link.
BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class Metrics(Observer):
    """Counts what the connections of a server (or client) do; see the module docstring.

    ``node`` labels the connected charge points gauge (a cluster node's id, a worker's name).
    ``registry``: where the metrics are registered (prometheus_client's default one).
    """

    def __init__(self, *, node: str = "", registry: CollectorRegistry = REGISTRY) -> None:
        self._node = node

        def counter(name: str, text: str, *names: str) -> Counter:
            return Counter(name, text, names, registry=registry)

        def histogram(name: str, text: str, *names: str) -> Histogram:
            return Histogram(name, text, names, buckets=BUCKETS, registry=registry)

        self.charge_points = Gauge(
            "ocpp_connected_charge_points",
            "Charge points connected now",
            ("version", "node"),
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.opened = counter("ocpp_connections_opened", "Connections opened", "version")
        self.closed = counter("ocpp_connections_closed", "Connections closed", "code")
        self.refused = counter("ocpp_handshakes_refused", "Opening handshakes refused", "reason")
        self.frames = counter(
            "ocpp_frames", "Frames received (in) and sent (out)", "direction", "type", "action"
        )
        self.call_errors = counter(
            "ocpp_call_errors",
            "CALLERRORs received (in) and sent (out)",
            "direction",
            "code",
        )
        self.handler_duration = histogram(
            "ocpp_inbound_handler_duration_seconds",
            "From a CALL received to its answer sent",
            "action",
        )
        self.call_duration = histogram(
            "ocpp_outbound_call_duration_seconds",
            "From a CALL sent to its answer received",
            "action",
        )
        self.timeouts = counter(
            "ocpp_outbound_calls_timed_out", "CALLs sent that had no answer in time", "action"
        )
        self.cluster_calls = histogram(
            "ocpp_cluster_call_duration_seconds",
            "Calls through the cluster, from this node to an answer, by outcome",
            "action",
            "outcome",
        )
        for reason in REFUSALS:  # every reason shows, 0 until it happens
            self.refused.labels(reason)
        self._children: dict[tuple[Any, ...], Any] = {}
        # The hot path: a frame's or an exchange's children by what the peer sent as it is,
        # kept only for known actions (the peer cannot grow these), so that a frame costs a
        # tuple, a look-up and an increment.
        self._frame_children: dict[tuple[Any, ...], Any] = {}
        self._exchange_children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        """The metric's child for these label values: made once."""
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # -- Observer ---------------------------------------------------------------------------

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self._child(self.opened, connection.version).inc()
        self._child(self.charge_points, connection.version, self._node).inc()

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        self._child(self.closed, labels.close_code(code)).inc()
        self._child(self.charge_points, connection.version, self._node).dec()

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        key = ("in", connection.version, frame.__class__, getattr(frame, "action", None))
        child = self._frame_children.get(key) or self._frame_child(key, frame)
        child.inc()
        if frame.__class__ is CallError or frame.__class__ is CallResultError:
            self._call_error("in", frame)

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        key = ("out", connection.version, frame.__class__, getattr(frame, "action", None))
        child = self._frame_children.get(key) or self._frame_child(key, frame)
        child.inc()
        if frame.__class__ is CallError or frame.__class__ is CallResultError:
            self._call_error("out", frame)

    def _frame_child(self, key: tuple[Any, ...], frame: Frame | None) -> Any:
        direction, version, _, name = key
        # An answer's action is its exchange's: "" (a CALLRESULT may know it, a peer's not).
        action = labels.action(version, name) if isinstance(frame, Call | Send) else ""
        child = self._child(self.frames, direction, labels.frame_type(frame), action)
        if action != labels.OTHER:
            self._frame_children[key] = child
        return child

    def _call_error(self, direction: str, frame: CallError) -> None:
        self._child(self.call_errors, direction, labels.error_code(frame.error_code)).inc()

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        key = (record.direction, connection.version, record.call.action)
        children = self._exchange_children.get(key) or self._exchange_child(key)
        children[0].observe(record.latency)
        if record.outcome is Outcome.TIMEOUT:
            children[1].inc()

    def _exchange_child(self, key: tuple[Any, ...]) -> tuple[Any, Any]:
        direction, version, name = key
        action = labels.action(version, name)
        inbound = direction is Direction.INBOUND
        duration = self.handler_duration if inbound else self.call_duration
        children = (
            self._child(duration, action),
            None if inbound else self._child(self.timeouts, action),
        )
        if action != labels.OTHER:
            self._exchange_children[key] = children
        return children

    def handshake_refused(self, remote: str, reason: str) -> None:
        self._child(self.refused, reason).inc()

    # -- the cluster's call watcher (trio_ocpp.cluster: cluster.watchers.append(metrics)) -----

    @contextlib.contextmanager
    def sending(
        self, identity: str, version: str, action: str, carried: dict[str, str]
    ) -> Iterator[None]:
        """A call through the cluster, timed to its outcome."""
        started = time.perf_counter()
        outcome = "result"
        try:
            yield
        except BaseException as exc:
            outcome = _cluster_outcome(exc)
            raise
        finally:
            child = self._child(self.cluster_calls, labels.action(version, action), outcome)
            child.observe(time.perf_counter() - started)

    def serving(
        self, identity: str, version: str, action: str, carried: Mapping[str, str]
    ) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # the charge point's call is an exchange


def _cluster_outcome(exc: BaseException) -> str:
    """A bounded name for how a cluster call failed."""
    if isinstance(exc, errors.CallTimeoutError):
        return "timeout"
    if isinstance(exc, errors.ConnectionClosedError):  # NotConnectedError among them
        return "not_connected"
    if isinstance(exc, errors.ClusterUnavailableError):
        return "unavailable"
    if isinstance(exc, errors.OCPPError):
        return "error"
    return "failed"

"""Prometheus metrics of a central system (``pip install trio-ocpp[metrics]``).

::

    metrics = Metrics()                       # registers in prometheus_client's REGISTRY
    server = trio_ocpp.Server(CentralSystem, observers=[metrics])
    prometheus_client.start_http_server(9100)

:class:`Metrics` is an :class:`~trio_ocpp.Observer`: connections, frames, exchanges and refused
handshakes are counted as they happen, on the connection's task, with no I/O. Labels are
bounded: no identity, actions only of the version's schemas, error and close codes only of
the known ones; anything else is ``"other"`` (``_labels.py``). The figures are plain Python
ints and lists, read into metric families only when scraped (``_figures.py``): a frame costs
three subscripts and an increment, no lock and no prometheus_client call. Where it is a
connection's only observer, the connection calls its counting directly (``direct_hooks``): no
wall-clock reading, no exchange record, no call between; and a CALL from the peer is counted
when it was answered, with its answer and its duration, in one call.

Serving them, and several processes in one scrape: :mod:`trio_ocpp.observability.scrape`.
"""

from __future__ import annotations

import contextlib
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from time import perf_counter
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import Metric

from .._core import errors
from .._core.frames import Call, CallError, CallResult, Frame
from .._runtime.observe import (
    INBOUND,
    REFUSALS,
    RESULT,
    TIMEOUT,
    ConnectionInfo,
    Direct,
    Direction,
    ExchangeRecord,
    Observer,
    Outcome,
    Reply,
    failed,
)
from . import _labels as labels
from ._figures import Count, Family, Histogram

__all__ = ["BUCKETS", "Metrics"]

#: Seconds, from 0.1 ms to 60 s: a handler that answers from memory to a call that waits for
#: a charge point on a slow mobile link.
BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
#: Where most answers go: found by one comparison, not a search of the bounds.
_FIRST_BOUND = BUCKETS[0]


class Metrics(Observer):
    """Counts what the connections of a server (or client) do; see the module docstring.

    ``node`` labels the connected charge points gauge (a cluster node's id, a worker's name).
    ``registry``: where the metrics are registered (prometheus_client's default one), as one
    collector that reads the figures at scrape time.
    """

    def __init__(self, *, node: str = "", registry: CollectorRegistry | None = REGISTRY) -> None:
        self._node = node

        def counter(name: str, text: str, *names: str) -> Family:
            return Family(name, text, "counter", names)

        def histogram(name: str, text: str, *names: str) -> Family:
            return Family(name, text, "histogram", names, BUCKETS)

        self.charge_points = Family(
            "ocpp_connected_charge_points",
            "Charge points connected now",
            "gauge",
            ("version", "node"),
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
        self.event_lag = histogram(
            "ocpp_cluster_event_lag_seconds",
            "From an event recorded by a node to its delivery to a consumer of the group",
            "group",
        )
        for reason in REFUSALS:  # every reason shows, 0 until it happens
            self.refused.count(reason)
        self._versions: dict[str, _Counting] = {}
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Every metric as prometheus_client exposes it (a collector's method)."""
        for family in vars(self).values():
            if isinstance(family, Family):
                yield family.collect()

    def _counting(self, version: str) -> _Counting:
        counting = self._versions.get(version)
        if counting is None:
            counting = self._versions[version] = _Counting(self, version)
        return counting

    def direct_hooks(self, connection: ConnectionInfo) -> Direct:
        """A connection's frames and exchanges counted with no call between it and the
        figures (see :class:`~trio_ocpp._runtime.observe.Direct`), where a subclass did not
        override the hook."""
        counting, cls = self._counting(connection.version), type(self)
        return Direct(
            counting.received if cls.frame_received is Metrics.frame_received else None,
            counting.sent if cls.frame_sent is Metrics.frame_sent else None,
            counting.exchanged if cls.exchange is Metrics.exchange else None,
            counting.answered,  # used only where the three above are
        )

    # -- Observer ---------------------------------------------------------------------------

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.opened.count(connection.version).value += 1
        self.charge_points.count(connection.version, self._node).value += 1

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        self.closed.count(labels.close_code(code)).value += 1
        self.charge_points.count(connection.version, self._node).value -= 1

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        self._counting(connection.version).received(text, frame)

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        self._counting(connection.version).sent(text, frame)

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        # A bool, not the Direction: an enum member's hash is a Python method (~0.3 µs).
        inbound = record.direction is INBOUND
        counting = self._counting(connection.version)
        counting.observe(inbound, record.call.action, record.outcome, record.latency)

    def handshake_refused(self, remote: str, reason: str) -> None:
        self.refused.count(reason).value += 1

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
            child = self.cluster_calls.histogram(labels.action(version, action), outcome)
            child.observe(time.perf_counter() - started)

    def serving(
        self, identity: str, version: str, action: str, carried: Mapping[str, str]
    ) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # the charge point's call is an exchange

    def event_delivered(self, group: str, lag: float) -> None:
        """An event of the cluster's stream reached a consumer of ``group``, ``lag`` seconds
        after a node recorded it (the cluster's event watcher)."""
        self.event_lag.histogram(group).observe(lag)


class _Counting:
    """The frames and exchanges of one version's connections: :class:`Metrics`' hooks, and its
    direct ones (a frame costs a call and three subscripts). Their children by what the peer
    sent as it is, in nested dicts (subscripts by a class, a str or a bool cost less than a
    tuple's hash), kept only for known actions (the peer cannot grow these) and never for
    CALLERRORs (counted by code each time)."""

    __slots__ = ("_answers", "_exchanges", "_metrics", "_received", "_sent", "_version")

    def __init__(self, metrics: Metrics, version: str) -> None:
        self._metrics, self._version = metrics, version
        self._received: dict[type, dict[str | None, Count]] = {}
        self._sent: dict[type, dict[str | None, Count]] = {}
        self._exchanges: dict[bool, dict[str, tuple[Histogram, Count | None]]] = {
            True: {},
            False: {},
        }
        #: By action, inbound CALLs answered with a CALLRESULT: the duration, the CALL
        #: received and the answer sent of each, in one observation (Count.parts).
        self._answers: dict[str, Histogram] = {}

    # Direct hooks must not raise: a failure, however unlikely, is reported (observe.failed).

    def received(self, text: str | bytes, frame: Frame | None) -> None:
        try:
            self._received[type(frame)][frame.action].value += 1  # type: ignore[union-attr]
        except Exception:  # the first, a CALLERROR, another action, no frame
            _guarded(self._count_frame, self._received, "in", frame)

    def sent(self, text: str, frame: Frame) -> None:
        try:
            self._sent[type(frame)][frame.action].value += 1
        except Exception:
            _guarded(self._count_frame, self._sent, "out", frame)

    def _count_frame(
        self,
        known_children: dict[type, dict[str | None, Count]],
        direction: str,
        frame: Frame | None,
    ) -> None:
        """Count a frame on its child, kept in ``known_children`` unless the peer chose its
        action (a handler may answer any action) or it is a CALLERROR (counted by code)."""
        metrics = self._metrics
        name = None if frame is None else frame.action
        known = name is None or labels.action(self._version, name) != labels.OTHER
        # An answer's action is the CALL's it answers; "" when none (a late or unknown id).
        action = "" if name is None else name if known else labels.OTHER
        child = metrics.frames.count(direction, labels.frame_type(frame), action)
        child.value += 1
        if isinstance(frame, CallError):  # a CALLRESULTERROR too
            metrics.call_errors.count(direction, labels.error_code(frame.error_code)).value += 1
        elif known and frame is not None:
            known_children.setdefault(type(frame), {})[name] = child

    def exchanged(
        self,
        direction: Direction,
        call: Call,
        reply: Reply,
        outcome: Outcome,
        started: float,
    ) -> None:
        # The latency as Observers measures it for an ExchangeRecord; observe() written out
        # on the fast path (a call less per exchange).
        latency = perf_counter() - started
        try:
            duration, timeouts = self._exchanges[direction is INBOUND][call.action]
            duration.buckets[bisect_left(duration.bounds, latency)] += 1
            duration.sum += latency
            if timeouts is not None and outcome is TIMEOUT:
                timeouts.value += 1
        except Exception:  # the first of its action, or another action: no child kept
            _guarded(self.observe, direction is INBOUND, call.action, outcome, latency)

    def answered(
        self,
        direction: Direction,
        call: Call,
        reply: Reply,
        outcome: Outcome,
        started: float,
    ) -> None:
        """An inbound CALL, its answer and their exchange (``Direct.answered``): one lookup for
        a known action answered with a CALLRESULT, otherwise the three hooks' counting."""
        latency = perf_counter() - started
        try:
            if outcome is RESULT:  # inbound: answered with a CALLRESULT
                answers = self._answers[call.action]
                if latency <= _FIRST_BOUND:  # a handler that answered from memory
                    answers.buckets[0] += 1
                else:
                    answers.buckets[bisect_left(answers.bounds, latency)] += 1
                answers.sum += latency
                return
        except Exception:  # the first of its action, or another action
            pass
        _guarded(self._answered_slowly, call, reply, outcome, latency)

    def _answered_slowly(
        self,
        call: Call,
        reply: Reply,
        outcome: Outcome,
        latency: float,
    ) -> None:
        self._count_frame(self._received, "in", call)
        if reply is not None:
            self._count_frame(self._sent, "out", reply)
        self.observe(True, call.action, outcome, latency)
        action = call.action
        if type(reply) is CallResult and action not in self._answers:
            try:  # the children of a known action, now all made
                children = (
                    self._exchanges[True][action][0],
                    self._received[Call][action],
                    self._sent[CallResult][action],
                )
            except KeyError:
                return
            # Its next ones are observed once, in a record each of the three reads as its own.
            answers = self._answers[action] = Histogram(BUCKETS)
            for child in children:
                child.parts += (answers,)

    def observe(self, inbound: bool, action: str, outcome: Outcome, latency: float) -> None:
        """An exchange of ``action`` ended, ``latency`` seconds after it started."""
        try:
            duration, timeouts = self._exchanges[inbound][action]
        except KeyError:
            duration, timeouts = self._exchange_child(inbound, action)
        duration.observe(latency)
        if timeouts is not None and outcome is TIMEOUT:
            timeouts.value += 1

    def _exchange_child(self, inbound: bool, name: str) -> tuple[Histogram, Count | None]:
        metrics = self._metrics
        action = labels.action(self._version, name)
        duration = metrics.handler_duration if inbound else metrics.call_duration
        children = (
            duration.histogram(action),
            None if inbound else metrics.timeouts.count(action),
        )
        if action != labels.OTHER:
            self._exchanges[inbound][action] = children
        return children


def _guarded(count: Callable[..., None], *args: Any) -> None:
    """``count(*args)``, a failure reported: what a direct hook calls off its fast path."""
    try:
        count(*args)
    except Exception as exc:
        failed(count, exc)


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

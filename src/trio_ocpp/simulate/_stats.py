"""What a fleet did: an :class:`~trio_ocpp.Observer` on all its connections, and the figures its
stations report (boots, transactions). The live view reads it, the report is made of it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import trio

from .._client.client import ConnectionRejected, HandshakeError
from .._core.frames import CallError
from .._runtime.observe import (
    CLOSED,
    ERROR,
    OUTBOUND,
    RESULT,
    ConnectionInfo,
    ExchangeRecord,
    Observer,
)
from ._histogram import Histogram

#: Errors that a charge point answering what it does not support is expected to give.
EXPECTED_INBOUND_ERRORS = frozenset({"NotSupported", "NotImplemented"})


@attrs.define
class ActionStats:
    """One action in one direction: how many, how they ended, how long they took."""

    count: int = 0
    errors: Counter[str] = attrs.field(factory=Counter)
    latency: Histogram = attrs.field(factory=Histogram)

    def merge(self, other: ActionStats) -> None:
        self.count += other.count
        self.errors.update(other.errors)
        self.latency.merge(other.latency)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "errors": dict(self.errors),
            "histogram": self.latency.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionStats:
        return cls(data["count"], Counter(data["errors"]), Histogram.from_json(data["histogram"]))


def _error_name(record: ExchangeRecord) -> str | None:
    """What went wrong with an exchange, or None."""
    if record.outcome is RESULT or record.outcome is CLOSED:
        return None  # a close is the connection's story (resets, lost connections)
    if record.outcome is ERROR:
        return str(record.reply.error_code) if isinstance(record.reply, CallError) else "CallError"
    return str(record.outcome.value)


@attrs.define
class FleetStats(Observer):
    """Counters for a fleet (one process's share of it; :meth:`merge` adds shares)."""

    #: (action, "inbound" | "outbound") -> its figures.
    actions: dict[tuple[str, str], ActionStats] = attrs.field(factory=dict)
    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0
    #: Of them, the handshakes the central system refused with an HTTP status (401, 404, ...).
    refused_handshakes: int = 0
    connected: int = 0
    booted: int = 0
    boots: int = 0
    boots_refused: int = 0
    transactions_running: int = 0
    transactions: int = 0
    #: Failures of the simulator itself (a station task that raised): always unexpected.
    crashes: Counter[str] = attrs.field(factory=Counter)
    #: Seconds since the fleet started when its last charge point first connected / booted.
    all_connected_after: float | None = None
    all_booted_after: float | None = None
    #: Calls answered (both directions) and unexpected errors: the live view reads their growth.
    calls: int = 0
    unexpected: int = 0
    #: Latencies of outbound calls since the live view last looked.
    recent: Histogram = attrs.field(factory=Histogram)
    #: The fleet's size in this process and when it started (trio time): the storm figures.
    expected: int = 0
    started_at: float = 0.0
    _seen: set[str] = attrs.field(factory=set)
    _first_boots: int = 0

    def first_boot(self) -> None:
        """A charge point was accepted for the first time."""
        self._first_boots += 1
        if self._first_boots == self.expected:
            self.all_booted_after = trio.current_time() - self.started_at

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.connects += 1
        self.connected += 1
        if connection.identity in self._seen:
            self.reconnects += 1
        else:
            self._seen.add(connection.identity)
            if len(self._seen) == self.expected:
                self.all_connected_after = trio.current_time() - self.started_at

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        self.connected -= 1

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        # Not the enum's .value nor its hash: each is a Python call, and this runs per exchange.
        key = (record.call.action, "outbound" if record.direction is OUTBOUND else "inbound")
        stats = self.actions.get(key)
        if stats is None:
            stats = self.actions[key] = ActionStats()
        stats.count += 1
        self.calls += 1
        error = _error_name(record)
        if error is not None:
            stats.errors[error] += 1
            if record.direction is OUTBOUND or error not in EXPECTED_INBOUND_ERRORS:
                self.unexpected += 1
        if record.outcome is not CLOSED:
            stats.latency.add(record.latency)
            if record.direction is OUTBOUND:
                self.recent.add(record.latency)

    def crashed(self, exc: BaseException) -> None:
        self.crashes[type(exc).__name__] += 1
        self.unexpected += 1

    def connect_failed(self, error: HandshakeError) -> None:
        """A connection attempt failed (``Client(on_connect_error=...)``)."""
        self.failed_connects += 1
        if isinstance(error, ConnectionRejected):
            self.refused_handshakes += 1

    def merge(self, other: FleetStats) -> None:
        for key, stats in other.actions.items():
            self.actions.setdefault(key, ActionStats()).merge(stats)
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.transactions += other.transactions
        self.calls += other.calls
        self.unexpected += other.unexpected
        self.crashes.update(other.crashes)
        for name in ("all_connected_after", "all_booted_after"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, None if mine is None or theirs is None else max(mine, theirs))

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [
                {"action": action, "direction": direction, **stats.to_json()}
                for (action, direction), stats in sorted(self.actions.items())
            ],
            **{name: getattr(self, name) for name in _TOTALS},
            "crashes": dict(self.crashes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetStats:
        stats = cls(**{name: data[name] for name in _TOTALS})
        stats.crashes.update(data["crashes"])
        for item in data["actions"]:
            key = (item["action"], item["direction"])
            stats.actions[key] = ActionStats.from_json(item)
        return stats


#: The counters that shares of a fleet add up.
_COUNTS = (
    "connects",
    "reconnects",
    "failed_connects",
    "refused_handshakes",
    "boots",
    "boots_refused",
)
_TOTALS = (
    *_COUNTS,
    "transactions",
    "calls",
    "unexpected",
    "all_connected_after",
    "all_booted_after",
)

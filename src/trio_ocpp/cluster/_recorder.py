"""A node's side of the event stream: answered CALLs in, fairly and within bounds, then appended.

It observes each charge point's exchanges (an Observer: told synchronously); one task
appends what gathered, in batches. Everything that could grow without end is bounded:

- *Per charge point*: each identity has a budget (a token bucket) of ``rate`` units a second,
  up to ``burst``; an event costs one unit per started 4 KiB. Past it, the identity's events
  are not recorded (counted, and logged at its 1st, 2nd, 4th, 8th... one): a charge point that
  floods spends its own budget, not the stream's room for the others. The burst is generous
  so that an honest charge point replaying what it queued while offline is not cut.
- *Per event*: one whose request and response together exceed ``payload_limit`` bytes is
  recorded without them (``Event.omitted`` says how many bytes were left out), and logged.
- *The stream*: at most ``maxlen`` entries and ``max_bytes`` bytes of fields, trimmed oldest
  first (:meth:`~trio_ocpp.cluster._broker.Broker.append`); what a trim takes before a consumer
  group read it is counted and logged, once per ``_SUMMARY`` seconds at most.
- *The node's buffer*, which fills while the broker is unreachable (the task retries): at most
  ``buffer`` events and ``buffer_bytes`` bytes, the batch being appended included; past it,
  new events are dropped, counted and logged.

:meth:`EventRecorder.statistics` gives the counts (``Cluster.event_statistics()``).
"""

from __future__ import annotations

import collections
import logging
import time

import attrs
import trio

from .._core import json_codec as _json
from .._core.frames import Call, CallResult
from .._core.logsafe import escape
from .._runtime.observe import INBOUND, RESULT, ConnectionInfo, ExchangeRecord, Observer
from ._broker import Broker, ClusterUnavailableError

__all__ = ["EventLimits", "EventRecorder", "EventStatistics", "warn_now_and_then"]

logger = logging.getLogger("trio_ocpp.cluster.events")

#: Events appended in one round trip at most.
_BATCH = 500
#: Seconds before appending again after the broker failed.
_RETRY = 1.0
#: An event costs one unit of its charge point's budget per started ``_UNIT`` bytes.
_UNIT = 4096
#: Seconds between two lines about events trimmed unread; between two sweeps of idle budgets.
_SUMMARY = 10.0
_SWEEP = 60.0


@attrs.frozen
class EventLimits:
    """The bounds of a node's recording (the module docstring; ``cluster.connect``'s options)."""

    maxlen: int = 100_000
    max_bytes: int = 256 << 20
    payload_limit: int = 256 << 10
    rate: float = 10.0
    burst: float = 1000.0
    buffer: int = 10_000
    buffer_bytes: int = 64 << 20

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(EventLimits):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"events_{field.name} must be positive")


@attrs.frozen
class EventStatistics:
    """What a node's recorder did since it started (``Cluster.event_statistics()``)."""

    #: Answered CALLs taken into the node's buffer, and of those, appended to the stream.
    recorded: int
    appended: int
    #: Events not recorded: their charge point was over its budget (``events_rate``).
    rate_limited: int
    #: Events recorded without their payloads: over ``events_payload_limit``.
    payloads_omitted: int
    #: Events dropped: the node's buffer was full (the broker unreachable for long).
    buffer_full: int
    #: Events that this node's appends trimmed before a consumer group had read them, counted
    #: once per group.
    trimmed_unread: int
    #: Events held now, waiting to be appended, and their bytes.
    buffered: int
    buffered_bytes: int


@attrs.define(eq=False)
class _Budget:
    """One charge point's token bucket, and its counts for the log."""

    tokens: float
    at: float
    limited: int = 0
    omitted: int = 0


def _size(text: str) -> int:
    """Bytes of ``text`` as UTF-8 (``isascii`` is free: CPython knows it)."""
    return len(text) if text.isascii() else len(text.encode())


def warn_now_and_then(log: logging.Logger, count: int, message: str, *args: object) -> None:
    """Log the 1st, 2nd, 4th, 8th... of a warning that may repeat (``count``: this one's
    number): said, not flooded."""
    if count & (count - 1) == 0:
        log.warning(message, *args)


class EventRecorder(Observer):
    """A node's side: takes answered CALLs of ``actions`` and appends them to the stream (an
    observer of each charge point's exchanges)."""

    def __init__(self, actions: frozenset[str], node: str, limits: EventLimits):
        self.actions = actions
        self._node = node
        self._limits = limits
        self._budgets: dict[str, _Budget] = {}
        self._buffer: collections.deque[tuple[list[tuple[str, str]], int]] = collections.deque()
        self._held = self._held_bytes = 0  # the buffer and the batch being appended
        self._wake = trio.Event()
        self._recorded = self._appended = self._rate_limited = self._omitted = 0
        self._buffer_full = self._trimmed_unread = 0
        self._unread: collections.Counter[str] = collections.Counter()  # not logged yet
        self._summary_at = self._sweep_at = trio.current_time()

    def statistics(self) -> EventStatistics:
        return EventStatistics(
            recorded=self._recorded,
            appended=self._appended,
            rate_limited=self._rate_limited,
            payloads_omitted=self._omitted,
            buffer_full=self._buffer_full,
            trimmed_unread=self._trimmed_unread,
            buffered=self._held,
            buffered_bytes=self._held_bytes,
        )

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        """The CALLs a charge point made that we answered with a CALLRESULT are events."""
        reply = record.reply
        if record.direction is INBOUND and record.outcome is RESULT:
            assert isinstance(reply, CallResult)
            self.record(connection.identity, connection.version, record.call, reply)

    def record(self, identity: str, version: str, call: Call, reply: CallResult) -> None:
        """The CALL of ``identity`` answered with ``reply``: an event, if of ``actions``."""
        if call.action not in self.actions:
            return
        limits, now = self._limits, trio.current_time()
        budget = self._budgets.get(identity)
        if budget is None:
            budget = self._budgets[identity] = _Budget(limits.burst, now)
        tokens = min(limits.burst, budget.tokens + (now - budget.at) * limits.rate)
        budget.tokens, budget.at = tokens, now
        if tokens < 1:  # checked before the payloads are written: a flood costs little
            self._rate_limited += 1
            budget.limited += 1
            line = "%s: over its event rate, %d events not recorded"
            warn_now_and_then(logger, budget.limited, line, escape(identity), budget.limited)
            return
        request, response = _json.dumps(call.payload), _json.dumps(reply.payload)
        size = _size(request) + _size(response)
        omitted = 0
        if size > limits.payload_limit:
            omitted, request, response, size = size, "{}", "{}", 4
            self._omitted += 1
            budget.omitted += 1
            line = "%s: a %s event of %d bytes recorded without its payloads (%d so far)"
            args = (escape(identity), call.action, omitted, budget.omitted)
            warn_now_and_then(logger, budget.omitted, line, *args)
        # A big event may take the budget below zero: the charge point then waits it out.
        budget.tokens -= 1 + size // _UNIT
        fields = [
            ("identity", identity),
            ("node", self._node),
            ("version", version),
            ("action", call.action),
            ("request", request),
            ("response", response),
            ("time", repr(time.time())),
            ("omitted", str(omitted)),
        ]
        entry_bytes = sum(_size(value) for _, value in fields)
        if self._held >= limits.buffer or self._held_bytes + entry_bytes > limits.buffer_bytes:
            self._buffer_full += 1
            line = "event buffer full: %d events dropped"
            warn_now_and_then(logger, self._buffer_full, line, self._buffer_full)
            return
        self._buffer.append((fields, entry_bytes))
        self._held += 1
        self._held_bytes += entry_bytes
        self._recorded += 1
        self._wake.set()

    async def run(self, broker: Broker) -> None:
        """Append what is recorded, in batches, until cancelled."""
        while True:
            if not self._buffer:
                self._wake = trio.Event()
                wake_at = self._sweep_at
                if self._unread:
                    wake_at = min(wake_at, self._summary_at)
                with trio.move_on_at(wake_at):
                    await self._wake.wait()
            now = trio.current_time()
            if self._unread and now >= self._summary_at:
                self._summarize(now)
            if now >= self._sweep_at:
                self._sweep(now)
            if self._buffer:
                count = min(_BATCH, len(self._buffer))
                await self._append(broker, [self._buffer.popleft() for _ in range(count)])

    async def _append(self, broker: Broker, batch: list[tuple[list[tuple[str, str]], int]]) -> None:
        entries = [fields for fields, _ in batch]
        limits = self._limits
        while True:
            try:
                unread = await broker.append(entries, limits.maxlen, limits.max_bytes)
                break
            except ClusterUnavailableError as exc:
                logger.warning("%d events not appended yet: %s", len(batch), exc)
                await trio.sleep(_RETRY)
        self._appended += len(batch)
        self._held -= len(batch)
        self._held_bytes -= sum(size for _, size in batch)
        if unread:
            self._trimmed_unread += sum(unread.values())
            self._unread.update(unread)
            now = trio.current_time()
            if now >= self._summary_at:
                self._summarize(now)

    def _summarize(self, now: float) -> None:
        """One line for the events trimmed unread since the last one; the next in
        ``_SUMMARY`` seconds at the soonest."""
        groups = ", ".join(f"{escape(g)}: {n}" for g, n in sorted(self._unread.items()))
        logger.warning(
            "the event stream was trimmed before consumer groups read these events (%s): "
            "raise events_maxlen / events_max_bytes for the lag of your consumers",
            groups,
        )
        self._unread.clear()
        self._summary_at = now + _SUMMARY

    def _sweep(self, now: float) -> None:
        """Forget the budgets that are full again: a new one is the same."""
        limits = self._limits
        self._budgets = {
            identity: budget
            for identity, budget in self._budgets.items()
            if budget.tokens + (now - budget.at) * limits.rate < limits.burst
        }
        self._sweep_at = now + _SWEEP

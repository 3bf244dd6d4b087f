"""The event stream: answered CALLs appended by the nodes, read by consumer groups.

A node appends ``(identity, node, action, request, response, time)`` for each inbound CALL of
the chosen actions once its CALLRESULT went out. The runtime reports it synchronously
(``ChargePoint.on_answered``), so it goes into a bounded buffer and one task appends what
gathered in a batch; while the broker is unreachable, that task retries and the buffer holds up
to ``events_buffer`` events (more are dropped, counted and logged). Consumers read with consumer
groups and acknowledge explicitly: an event delivered and never acknowledged is delivered again
to the same consumer when it comes back, or after ``claim_idle`` seconds to another consumer of
the group that asks (at least once: a consumer that is only slow may see it twice). A consumer
waits through a broker outage; if the broker lost the stream (a restart without persistence),
its group is made again and reads the new stream from its start.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import attrs
import trio

from .. import _json
from .._charge_point import ChargePoint
from .._frames import Call, CallResult
from ._broker import Broker, ClusterUnavailableError, StreamEntry

__all__ = ["Event", "EventRecorder", "EventStream", "open_event_stream"]

logger = logging.getLogger("trio_ocpp.cluster.events")

#: Events appended in one round trip at most.
_BATCH = 500
#: Seconds before appending again after the broker failed.
_RETRY = 1.0
#: Seconds a consumer's read blocks in the broker before it asks again.
_BLOCK = 5.0


@attrs.frozen
class Event:
    """An inbound CALL that a node answered with a CALLRESULT."""

    id: str  # the stream entry's id
    identity: str
    node: str
    ocpp_version: str
    action: str
    request: dict[str, Any]  # the payloads as on the wire
    response: dict[str, Any]
    time: float  # when the node recorded it (Unix time)

    @classmethod
    def from_entry(cls, entry: StreamEntry) -> Event:
        entry_id, fields = entry
        text = {key.decode(): value.decode() for key, value in fields.items()}
        return cls(
            id=entry_id,
            identity=text["identity"],
            node=text["node"],
            ocpp_version=text["version"],
            action=text["action"],
            request=_json.loads(text["request"]),
            response=_json.loads(text["response"]),
            time=float(text["time"]),
        )


class EventRecorder:
    """A node's side: takes answered CALLs of ``actions`` and appends them to the stream."""

    def __init__(self, actions: frozenset[str], node: str, maxlen: int, buffer: int):
        self.actions = actions
        self.dropped = 0
        self._node = node
        self._maxlen = maxlen
        self._send, self._receive = trio.open_memory_channel[list[tuple[str, str]]](buffer)

    def record(self, cp: ChargePoint, call: Call, reply: CallResult) -> None:
        """``ChargePoint.on_answered``."""
        if call.action not in self.actions:
            return
        fields = [
            ("identity", cp.id),
            ("node", self._node),
            ("version", cp.ocpp_version),
            ("action", call.action),
            ("request", _json.dumps(call.payload)),
            ("response", _json.dumps(reply.payload)),
            ("time", repr(time.time())),
        ]
        try:
            self._send.send_nowait(fields)
        except trio.WouldBlock:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1, 2, 4, 8...: said, not flooded
                logger.warning("event buffer full: %d events dropped", self.dropped)

    async def run(self, broker: Broker) -> None:
        """Append what is recorded, in batches, until cancelled."""
        while True:
            batch = [await self._receive.receive()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            while True:
                try:
                    await broker.append(batch, self._maxlen)
                    break
                except ClusterUnavailableError as exc:
                    logger.warning("%d events not appended yet: %s", len(batch), exc)
                    await trio.sleep(_RETRY)


class EventStream:
    """One consumer of a group: ``async for event in stream``, then ``await stream.ack(event)``."""

    def __init__(
        self, broker: Broker, group: str, consumer: str, count: int, claim_idle: float | None
    ):
        self.group = group
        self.consumer = consumer
        self._broker = broker
        self._claim_idle = claim_idle
        self._claim_at = trio.current_time() if claim_idle is not None else math.inf
        self._count = count
        # This consumer's unacknowledged events first, after this id; None: new ones.
        self._after: str | None = "0"
        self._ready: list[StreamEntry] = []

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._ready:
            after = self._after
            try:
                if after is None and self._claim_idle is not None:
                    self._ready = await self._take_over(self._claim_idle)
                if not self._ready:
                    # Waiting for new events, no longer than until the next take-over.
                    block = min(_BLOCK, self._claim_at - trio.current_time())
                    self._ready = await self._broker.read_group(
                        self.group, self.consumer, after, self._count, max(block, 0.001)
                    )
            except ClusterUnavailableError as exc:
                # Wait for the broker: a consumer goes on by itself once it is back.
                logger.warning(
                    "%s/%s cannot read events, retrying: %s", self.group, self.consumer, exc
                )
                await trio.sleep(_RETRY)
                continue
            if after is not None:
                self._after = self._ready[-1][0] if self._ready else None
            self._ready.reverse()
        return Event.from_entry(self._ready.pop())

    async def _take_over(self, idle: float) -> list[StreamEntry]:
        """Now and then, what other consumers left unacknowledged for ``idle`` seconds."""
        if trio.current_time() < self._claim_at:
            return []
        self._claim_at = trio.current_time() + min(idle, _BLOCK)
        return await self._broker.take_over(self.group, self.consumer, idle, self._count)

    async def ack(self, *events: Event) -> None:
        """Done with ``events``: the group will not deliver them again."""
        await self._broker.ack(self.group, [event.id for event in events])


@asynccontextmanager
async def open_event_stream(
    broker: AbstractAsyncContextManager[Broker],
    group: str,
    consumer: str,
    start: str,
    count: int,
    claim_idle: float | None,
) -> AsyncIterator[EventStream]:
    async with broker as reader:
        await reader.create_group(group, start)
        yield EventStream(reader, group, consumer, count, claim_idle)

"""The event stream: answered CALLs appended by the nodes, read by consumer groups.

A node appends ``(identity, node, action, request, response, time)`` for each inbound CALL of
the chosen actions once its CALLRESULT went out (:mod:`~trio_ocpp.cluster._recorder`, with its
bounds): the payloads as on the wire, which any language can read. A Python consumer gets them
as the node's handler saw them too, made on reading: the ``call`` and ``call_result`` objects.

Consumers read with consumer groups and acknowledge explicitly: an event delivered and never
acknowledged is delivered again to the same consumer when it comes back, or after
``claim_idle`` seconds to another consumer of the group that asks (at least once: a consumer
that is only slow may see it twice). A consumer waits through a broker outage; if the broker
lost the stream (a restart without persistence), its group is made again and reads the new
stream from its start. One that starts while the broker is away waits for it.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import attrs
import trio

from .._core import json_codec as _json
from .._core.payload import Payload, payload_class
from .._core.schemas import MessageKind
from ._broker import Broker, ClusterUnavailableError, StreamEntry
from ._reach import reach
from ._watch import EventWatcher

__all__ = ["Event", "EventStream", "open_event_stream"]

logger = logging.getLogger("trio_ocpp.cluster.events")

#: Seconds before reading again after the broker failed.
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
    request: dict[str, Any]  # the payloads as on the wire (camelCase)
    response: dict[str, Any]
    time: float  # when the node recorded it (Unix time)
    #: Bytes of the request and response left out: over the node's ``events_payload_limit``,
    #: the event was recorded with ``{}`` for both. 0: they are here.
    omitted: int = 0
    #: The payloads as the node's handler saw them: the request as its ``call`` object (whose
    #: fields are the handler's keyword arguments, snake_case) and the response as its
    #: ``call_result`` object (what the handler returned). None when the payloads were omitted,
    #: or for an action that its version has no class of (a vendor's).
    call: Payload | None = None
    call_result: Payload | None = None

    @classmethod
    def from_entry(cls, entry: StreamEntry, typed: bool = False) -> Event:
        """``typed``: ``call`` and ``call_result`` have nested values as datatypes objects."""
        entry_id, fields = entry
        text = {key.decode(): value.decode() for key, value in fields.items()}
        version, action = text["version"], text["action"]
        request, response = _json.loads(text["request"]), _json.loads(text["response"])
        omitted = int(text.get("omitted", 0))
        handled = functools.partial(_as_handled, version, action, typed=typed)
        return cls(
            id=entry_id,
            identity=text["identity"],
            node=text["node"],
            ocpp_version=version,
            action=action,
            request=request,
            response=response,
            time=float(text["time"]),
            omitted=omitted,
            call=None if omitted else handled(MessageKind.REQUEST, request),
            call_result=None if omitted else handled(MessageKind.RESPONSE, response),
        )


def _as_handled(
    version: str, action: str, kind: MessageKind, payload: dict[str, Any], typed: bool
) -> Payload | None:
    """A payload as a handler sees it; None when there is no class of it here."""
    try:
        return payload_class(version, action, kind).from_wire(payload, typed=typed)
    except (LookupError, ValueError, TypeError):
        return None  # a vendor's action, a version newer than this trio-ocpp, a foreign payload


class EventStream:
    """One consumer of a group: ``async for event in stream``, then ``await stream.ack(event)``."""

    def __init__(
        self,
        broker: Broker,
        group: str,
        consumer: str,
        count: int,
        claim_idle: float | None,
        typed: bool = False,
        watchers: Iterable[object] = (),
    ):
        self.group = group
        self._watchers = [w for w in watchers if isinstance(w, EventWatcher)]
        self.consumer = consumer
        self._broker = broker
        self._typed = typed
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
        event = Event.from_entry(self._ready.pop(), self._typed)
        if self._watchers:
            lag = max(time.time() - event.time, 0.0)  # another host's clock may be ahead
            for watcher in self._watchers:
                watcher.event_delivered(self.group, lag)
        return event

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
    open_broker: Callable[[], AbstractAsyncContextManager[Broker]],
    group: str,
    consumer: str,
    start: str,
    count: int,
    claim_idle: float | None,
    typed: bool,
    retry: float,
    watchers: Iterable[object] = (),
) -> AsyncIterator[EventStream]:
    """The stream of ``consumer`` (``Cluster.events``), once the broker answered; the event
    watchers among ``watchers`` are told of each delivery."""

    async def prepare(reader: Broker) -> None:
        await reader.create_group(group, start)

    async with reach(open_broker, prepare, f"{group}/{consumer}", retry) as (reader, _):
        yield EventStream(reader, group, consumer, count, claim_idle, typed, watchers)

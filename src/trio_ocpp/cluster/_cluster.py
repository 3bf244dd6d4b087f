"""A cluster client and node: membership, calls across nodes, and the tasks behind them.

One :class:`Cluster` per process (or per server): it lists and calls the charge points of every
node, and, given to a :class:`~trio_ocpp.Server` as ``cluster=``, makes that server a node whose
charge points the others can call. A call goes through the broker to the node that holds the
connection, which runs it with that connection's ``call()`` (one CALL at a time, as anywhere)
and sends the answer back to the caller's own channel. While it waits, the caller checks every
second that the node is still there and that it listens itself (after a broker restart both
subscribe again, and a reply that reached nobody is sent again for a while).

Deadlines: the caller's timeout covers the whole path, and its deadline travels with the call,
in the broker's time (:mod:`~trio_ocpp.cluster._clock`: the earliest moment the caller may give
up). The node runs the call only while it is surely before that moment, its wait for the
connection's turn included: a node that stalled, or whose subscriber did, and receives the call
late drops it without sending anything to the charge point. A charge point never gets a CALL
whose caller already saw it time out.

Membership: :mod:`~trio_ocpp.cluster._membership`.

Joining: :func:`connect` tries the broker once before it returns; if it is unreachable, the node
starts alone and one task tries again (:mod:`~trio_ocpp.cluster._reach`: spaced, jittered, a
log line per try). Meanwhile a server serves its charge points as it would through a broker
outage, calls through the cluster raise :class:`ClusterUnavailableError` at once, and events
wait in the node's buffer. Once the broker answers, the node measures its clock, listens,
records what it holds and appends what it buffered, and logs that it joined.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import attrs
import trio

from .._core import errors
from .._core import json_codec as _json
from .._core.logsafe import escape
from .._core.payload import Payload, payload_class
from .._core.route_table import checked_request
from .._core.schemas import MessageKind
from .._core.ungroup import ungroup
from .._runtime.charge_point import ChargePoint
from ._broker import Broker, ClusterUnavailableError, NotConnectedError
from ._clock import SEND_MARGIN, SharedClock
from ._events import EventStream, open_event_stream
from ._membership import REPLACED_CLOSE_CODE, NodeMembership
from ._reach import reach
from ._recorder import EventLimits, EventRecorder, EventStatistics, warn_now_and_then
from ._redis import redis_opener
from ._watch import CallWatcher, watching

__all__ = ["REPLACED_CLOSE_CODE", "Cluster", "connect"]

logger = logging.getLogger("trio_ocpp.cluster")

#: Seconds between checks that the node running a call is still there.
_NODE_CHECK = 1.0
#: Seconds a reply to a caller that is not listening yet is sent again for.
_TRANSIT = 2.0
#: Seconds between tries of a reply that reached nobody.
_RESEND = 0.1
#: Seconds before receiving again after the broker failed.
_RETRY = 1.0

Opener = Callable[[str], AbstractAsyncContextManager[Broker]]


@attrs.define(eq=False)
class _Waiting:
    """A call sent to another node, waiting for its reply."""

    done: trio.Event = attrs.Factory(trio.Event)
    reply: dict[str, Any] | None = None


class Cluster:
    """Made by :func:`connect`: the charge points of every node, and calls to them."""

    def __init__(
        self,
        node_id: str,
        opener: Opener,
        membership: NodeMembership,
        events: EventRecorder,
        clock: SharedClock,
        join_retry: float,
    ):
        self.node_id = node_id
        self._open = opener
        self._membership = membership
        self._recorder = events
        self._clock = clock
        self._retry = join_retry
        self._broker: Broker | None = None  # once joined
        self._waiting: dict[str, _Waiting] = {}
        self._late = 0  # calls received after their deadline
        #: Metrics and traces of the calls through the cluster, sent and served (``_watch``).
        self.watchers: list[CallWatcher] = []

    def _joined(self) -> Broker:
        if self._broker is None:
            raise ClusterUnavailableError("not joined: Redis unreachable since this node started")
        return self._broker

    # -- for application code ---------------------------------------------------------------

    async def charge_points(self) -> dict[str, str]:
        """Every charge point connected to a node of the cluster: identity -> node id."""
        members = await self._joined().members()
        return {identity: value.split(" ", 1)[0] for identity, value in members.items()}

    async def call(
        self,
        identity: str,
        payload: Payload,
        suppress: bool = False,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
        *,
        typed: bool = False,
        timeout: float = 30,
    ) -> Any:
        """Call the charge point ``identity`` on whichever node holds it: ``ChargePoint.call``.

        The payload is checked here, before it leaves; the response is the ``call_result``
        object (``typed``: nested values as datatypes objects). A CALLERROR raises its
        :class:`~trio_ocpp.exceptions.OCPPError` (``suppress=True``: returns None); no answer
        within ``timeout`` seconds, the whole path and the wait for the connection's turn
        included, raises :class:`~trio_ocpp.exceptions.CallTimeoutError`, and then the charge
        point has not been sent the CALL or was sent it before that moment, never after.
        :class:`NotConnectedError` comes at once when no node holds the identity, the node is
        gone or the connection closed; :class:`ClusterUnavailableError` when the broker cannot
        be reached.
        """
        version, action = payload.__ocpp_version__, payload.__ocpp_action__
        carried: dict[str, str] = {}
        with watching(self.watchers, False, identity, version, action, carried):
            return await self._call(
                identity,
                payload,
                suppress,
                unique_id,
                skip_schema_validation,
                typed,
                timeout,
                carried,
            )

    async def _call(
        self,
        identity: str,
        payload: Payload,
        suppress: bool,
        unique_id: str | None,
        skip_schema_validation: bool,
        typed: bool,
        timeout: float,
        carried: dict[str, str],
    ) -> Any:
        # The response is checked by the node that makes the call.
        wire = checked_request(payload, skip_schema_validation)
        broker = self._joined()
        version, action = payload.__ocpp_version__, payload.__ocpp_action__
        unique_id = unique_id or str(uuid.uuid4())
        request_id = uuid.uuid4().hex
        give_up = trio.current_time() + timeout
        message = {
            "t": "call",
            "id": request_id,
            "from": self.node_id,
            "cp": identity,
            "version": version,
            "action": action,
            "payload": wire,
            "unique_id": unique_id,
            "skip": skip_schema_validation,
            "timeout": timeout,
            "deadline": self._clock.earliest(give_up),
        }
        if carried:
            message["carried"] = carried
        waiting = self._waiting[request_id] = _Waiting()
        reply = None
        try:
            with trio.move_on_at(give_up):
                node, receivers = await broker.route(identity, _json.dumps(message).encode())
                if node is None:
                    raise NotConnectedError(f"No node holds {identity!r}")
                if not receivers:
                    raise NotConnectedError(f"The node {node} that held {identity!r} is gone")
                reply = await self._wait(broker, waiting, node, identity)
        finally:
            del self._waiting[request_id]
        if reply is None or "timeout" in reply:
            waited = timeout if reply is None else reply["timeout"]
            raise errors.CallTimeoutError(action=action, unique_id=unique_id, timeout=waited)
        if "result" in reply:
            result_class = payload_class(version, action, MessageKind.RESPONSE)
            return result_class.from_wire(reply["result"], typed=typed)
        if "error" in reply:
            if suppress:
                return None
            raise errors.error_from_code(*reply["error"])
        if "closed" in reply:
            raise NotConnectedError(reply["closed"])
        if "type_error" in reply:
            raise TypeError(reply["type_error"])
        raise errors.InternalError(f"The node {node} failed to make the call")

    async def _wait(
        self, broker: Broker, waiting: _Waiting, node: str, identity: str
    ) -> dict[str, Any] | None:
        """The reply; checks now and then that ``node`` lives and that this node listens."""
        while True:
            with trio.move_on_after(_NODE_CHECK):
                await waiting.done.wait()
                return waiting.reply
            there, here = await broker.listening([node, self.node_id])
            if not there:
                raise NotConnectedError(f"The node {node} that held {identity!r} is gone")
            if not here:
                # Not subscribed again yet after a reconnection: the reply may be lost.
                raise ClusterUnavailableError("This node is not listening for the reply")

    def events(
        self,
        group: str,
        consumer: str,
        *,
        start: str = "$",
        count: int = 100,
        claim_idle: float | None = 60,
        typed: bool = False,
    ) -> AbstractAsyncContextManager[EventStream]:
        """The event stream for ``consumer`` of consumer group ``group``, at least once:
        ``async with cluster.events(group="billing", consumer="b1") as events:`` then
        ``async for event in events: ...; await events.ack(event)``.

        First the events delivered to this consumer before and never acknowledged (it was
        stopped or crashed), then new ones, and the events that any consumer of the group left
        unacknowledged for ``claim_idle`` seconds (one that never came back; None: never take
        them over). A group is made on first use, from ``start``: "$" (the events appended from
        now on) or "0" (every event the stream still holds). ``count``: events per read.
        ``typed``: an event's ``call`` and ``call_result`` have nested values as datatypes
        objects. Entering waits for Redis if it is unreachable, as reading does. The
        :class:`EventWatcher` objects among ``watchers`` when it is entered are told of each
        event delivered (``Metrics``: the group's lag).
        """
        reader = functools.partial(self._open, f"{self.node_id}/events")
        options = (start, count, claim_idle, typed, self._retry, self.watchers)
        return open_event_stream(reader, group, consumer, *options)

    def event_statistics(self) -> EventStatistics:
        """What this node recorded into the event stream, and what it did not (and why)."""
        return self._recorder.statistics()

    # -- for a server: membership (trio_ocpp.Server's cluster= hook) ---------------------------

    def claim(self, cp: ChargePoint) -> None:
        self._membership.claim(cp)

    def release(self, cp: ChargePoint) -> None:
        self._membership.release(cp)

    # -- the node's tasks --------------------------------------------------------------------

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        """Join (``task_status`` is told after the first try), then run the node's tasks."""

        async def prepare(broker: Broker) -> None:
            for _ in range(3):  # the tightest of three samples
                await self._clock.measure(broker)
            await broker.subscribe()

        opener = functools.partial(self._open, self.node_id)
        who = f"node {self.node_id}"
        async with (
            reach(opener, prepare, who, self._retry, task_status) as (broker, waited),
            trio.open_nursery() as nursery,
        ):
            self._broker = broker
            nursery.start_soon(self._receive, broker, nursery)
            nursery.start_soon(self._membership.keep, broker)
            nursery.start_soon(self._recorder.run, broker)
            nursery.start_soon(self._clock.keep_measuring, broker)
            held = len(self._membership)
            if waited:  # the end of its warnings
                line = "%s joined the cluster, %.1f s after its first try (charge points here: %d)"
                logger.warning(line, who, waited, held)
            else:
                logger.info("%s joined the cluster (charge points here: %d)", who, held)

    async def _leave(self) -> None:
        """On the way out: remove what this node recorded, while the broker answers."""
        if self._broker is not None:
            await self._membership.release_all(self._broker)

    async def _receive(self, broker: Broker, nursery: trio.Nursery) -> None:
        while True:
            try:
                message = _json.loads(await broker.receive())
                kind = message["t"]
                if kind == "call":
                    # Where to answer and until when, read here: a message without them is
                    # dropped below. The deadline, in our time from now on.
                    sender, request_id = str(message["from"]), str(message["id"])
                    deadline = message["deadline"]
                    if not isinstance(deadline, float) or not math.isfinite(deadline):
                        raise ValueError(f"not a deadline: {deadline!r}")
                    deadline = self._clock.last_local(deadline) - SEND_MARGIN
                    args = (broker, message, sender, request_id, deadline)
                    nursery.start_soon(self._serve, *args)
                elif kind == "reply":
                    waiting = self._waiting.get(message["id"])
                    if waiting is not None:
                        waiting.reply = message
                        waiting.done.set()
                elif kind == "replaced":
                    self._membership.give_up(message["cp"], message["owner"], message.get("by"))
            except ClusterUnavailableError as exc:
                logger.warning("cannot receive from the broker: %s", exc)
                await trio.sleep(_RETRY)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("dropping a malformed cluster message: %s", escape(repr(exc)))

    async def _serve(
        self,
        broker: Broker,
        message: dict[str, Any],
        sender: str,
        request_id: str,
        deadline: float,
    ) -> None:
        """Run a call another node sent for one of our charge points; send back the reply."""
        reply: dict[str, Any] = {"t": "reply", "id": request_id}
        try:
            reply.update(await self._run_call(message, sender, deadline))
        except Exception:
            logger.exception("a call from %r failed", sender)
        data = _json.dumps(reply).encode()
        try:
            # A reply that reached nobody is sent again for a while: after a reconnection the
            # caller may not be subscribed again yet (a caller that is gone stops waiting).
            with trio.move_on_after(_TRANSIT):
                while not await broker.send(sender, data):
                    await trio.sleep(_RESEND)
        except ClusterUnavailableError as exc:
            logger.warning("the reply to %r is lost: %s", sender, exc)

    async def _run_call(
        self, message: dict[str, Any], sender: str, deadline: float
    ) -> dict[str, Any]:
        """The call's outcome; nothing is sent to the charge point from ``deadline`` on (our
        time: the caller may give up then), the wait for the connection's turn included."""
        identity, version, action = message["cp"], message["version"], message["action"]
        late = trio.current_time() - deadline
        if late >= 0:
            self._late += 1
            line = "%s: a %s call from %s came %.3f s too late, not sent (%d so far)"
            args = (escape(identity), escape(action), escape(sender), late, self._late)
            warn_now_and_then(logger, self._late, line, *args)
            return {"timeout": message["timeout"]}
        cp = self._membership.get(identity)
        if cp is None:
            return {"closed": f"{identity!r} is not connected to {self.node_id}"}
        if cp.ocpp_version != version:
            return {"type_error": f"{identity!r} speaks {cp.ocpp_version}, not {version}"}
        payload = payload_class(version, action, MessageKind.REQUEST).from_wire(message["payload"])
        carried = message.get("carried") or {}
        with (
            watching(self.watchers, True, identity, version, action, carried),
            trio.move_on_at(deadline),
        ):
            try:
                result = await cp.call(
                    payload,
                    unique_id=message["unique_id"],
                    skip_schema_validation=message["skip"],
                )
            except errors.CallTimeoutError as exc:
                return {"timeout": exc.timeout}
            except errors.ConnectionClosedError:
                return {"closed": f"the connection of {identity!r} closed"}
            except errors.OCPPError as exc:
                return {"error": [exc.code_for(version), exc.description, exc.details]}
            return {"result": result.to_wire()}
        return {"timeout": message["timeout"]}


def _node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def connect(
    url: str = "redis://127.0.0.1:6379",
    *,
    events: Iterable[str] = (),
    membership_ttl: float = 10,
    events_maxlen: int = 100_000,
    events_max_bytes: int = 256 << 20,
    events_payload_limit: int = 256 << 10,
    events_rate: float = 10,
    events_burst: float = 1000,
    events_buffer: int = 10_000,
    events_buffer_bytes: int = 64 << 20,
    prefix: str = "ocpp",
    join_retry: float = 1,
) -> AsyncIterator[Cluster]:
    """Join the cluster on the Redis (or Valkey) at ``url``, ``redis://[user:password@]host
    [:port][/db]`` (``rediss://``: TLS).

    Redis is tried once before this returns. If it cannot be reached, the node starts alone:
    a server given it serves its own charge points, calls and :meth:`Cluster.charge_points`
    raise :class:`ClusterUnavailableError` at once, events wait in the node's buffer, and one
    task tries again after ``join_retry`` seconds, doubled up to 8 times that, each plus a
    random part of up to ``join_retry`` (a log line per try). Once Redis answers the node joins
    (logged): its charge points are recorded, from when each was accepted, and callable.

    ``events``: the actions whose answered CALLs this node appends to the event stream (a
    server's inbound CALLs, once answered with a CALLRESULT). ``membership_ttl``: seconds after
    which the charge points of a node that died without a word leave the membership (calls to
    them fail at once anyway). ``prefix`` starts every key and channel, so that several
    clusters can share one Redis.

    The event stream's bounds (the README says how to size them): the stream is trimmed, oldest
    first, to ``events_maxlen`` entries and ``events_max_bytes`` bytes of fields; an event
    trimmed before a group read it is lost to that group (counted and logged). An event whose
    request and response exceed ``events_payload_limit`` bytes is recorded without them. Each
    charge point may record ``events_rate`` events a second on this node, in bursts of up to
    ``events_burst`` (an event counts once per started 4 KiB); past that its events are not
    recorded. ``events_buffer`` events and ``events_buffer_bytes`` bytes are held while the
    broker is unreachable; past them, new ones are dropped. All counted in
    :meth:`Cluster.event_statistics`.
    """
    if not membership_ttl > 0:
        raise ValueError("membership_ttl must be positive")
    if not join_retry > 0:
        raise ValueError("join_retry must be positive")
    limits = EventLimits(
        maxlen=events_maxlen,
        max_bytes=events_max_bytes,
        payload_limit=events_payload_limit,
        rate=events_rate,
        burst=events_burst,
        buffer=events_buffer,
        buffer_bytes=events_buffer_bytes,
    )
    opener = redis_opener(url, prefix)  # checked here: a wrong URL is no reason to wait
    node_id = _node_id()
    recorder = EventRecorder(frozenset(events), node_id, limits)
    clock = SharedClock()
    async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
        membership = NodeMembership(node_id, membership_ttl, clock, recorder, nursery)
        cluster = Cluster(node_id, opener, membership, recorder, clock, join_retry)
        await nursery.start(cluster._run)
        try:
            yield cluster
        finally:
            await cluster._leave()
            nursery.cancel_scope.cancel()

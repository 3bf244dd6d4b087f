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

Membership: a key per identity with the value ``"<node> <stamp>"``, recorded with an expiry
(``membership_ttl``) that the node refreshes every third of it. The stamp is the moment the
server registered the connection (``claim``, before its 101 went out), in the broker's time:
the newest connection wins by that moment, not by the order in which claims reach the broker,
so a claim that arrives late after a newer one closes its own, older connection. Changes are
batched by one task, so that a burst of connections costs a few broker round trips, and the
refresh records again whatever the broker lost (a restart without persistence): after an
outage every node is callable again within a refresh. A node that dies stops listening at once,
so calls to its charge points fail at once; its keys expire within ``membership_ttl``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import trio

from .._core import close_codes, errors
from .._core import json_codec as _json
from .._core.logsafe import escape
from .._core.payload import Payload, payload_class
from .._core.route_table import outbound_exchange, outgoing_payload
from .._core.schemas import MessageKind
from .._core.ungroup import ungroup
from .._core.validation import FormatPolicy, validation_engine
from .._runtime.charge_point import ChargePoint
from ._broker import Broker, ClusterUnavailableError, NotConnectedError
from ._clock import SEND_MARGIN, SharedClock
from ._events import EventStream, open_event_stream
from ._recorder import EventLimits, EventRecorder, EventStatistics, warn_now_and_then
from ._redis import open_redis

__all__ = ["REPLACED_CLOSE_CODE", "Cluster", "connect"]

logger = logging.getLogger("trio_ocpp.cluster")

#: The close code of a connection replaced by a newer one of its identity on another node (the
#: same as a replacement on one server: CONFORMANCE 39).
REPLACED_CLOSE_CODE = close_codes.REPLACED
_REPLACED = "replaced by a newer connection on another node"
#: Seconds between checks that the node running a call is still there.
_NODE_CHECK = 1.0
#: Seconds a reply to a caller that is not listening yet is sent again for; a stopping node
#: tries so long to remove its keys.
_TRANSIT = 2.0
#: Seconds between tries of a reply that reached nobody.
_RESEND = 0.1
#: Seconds before the membership task tries the broker again after a failure.
_RETRY = 1.0

Opener = Callable[[str], AbstractAsyncContextManager[Broker]]


@attrs.define(eq=False)
class _Held:
    cp: ChargePoint
    value: str  # the membership value: "<node> <stamp>"


@attrs.define(eq=False)
class _Waiting:
    """A call sent to another node, waiting for its reply."""

    done: trio.Event = attrs.Factory(trio.Event)
    reply: dict[str, Any] | None = None


def _connection(value: str | None) -> str:
    """A membership value for a log line: its node, and when its connection was accepted."""
    node, _, stamp = (value or "? ?").partition(" ")
    try:
        accepted = datetime.fromtimestamp(int(stamp) / 1e6, UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError, OSError):
        accepted = "?"
    return f"node {escape(node)}, accepted {accepted}"


def _request(payload: Payload, skip_schema_validation: bool) -> dict[str, Any]:
    """The wire form of a CALL's payload, checked as ``ChargePoint.call`` checks it."""
    # The payload's own version; the response is checked by the node that makes the call.
    engine = validation_engine()
    exchange = outbound_exchange(payload, MessageKind.REQUEST, None, FormatPolicy.LENIENT, engine)
    return outgoing_payload(exchange, payload, skip_schema_validation)


class Cluster:
    """Made by :func:`connect`: the charge points of every node, and calls to them."""

    def __init__(
        self,
        broker: Broker,
        nursery: trio.Nursery,
        node_id: str,
        opener: Opener,
        membership_ttl: float,
        events: EventRecorder,
        clock: SharedClock,
    ):
        self.node_id = node_id
        self._broker = broker
        self._nursery = nursery
        self._open = opener
        self._ttl = membership_ttl
        self._recorder = events
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._claims: dict[str, str] = {}  # to record
        self._releases: dict[str, str] = {}  # to remove
        self._changed = trio.Event()
        self._last_stamp = 0
        self._waiting: dict[str, _Waiting] = {}
        self._late = 0  # calls received after their deadline

    # -- for application code ---------------------------------------------------------------

    async def charge_points(self) -> dict[str, str]:
        """Every charge point connected to a node of the cluster: identity -> node id."""
        members = await self._broker.members()
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
        wire = _request(payload, skip_schema_validation)
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
        waiting = self._waiting[request_id] = _Waiting()
        reply = None
        try:
            with trio.move_on_at(give_up):
                node, receivers = await self._broker.route(identity, _json.dumps(message).encode())
                if node is None:
                    raise NotConnectedError(f"No node holds {identity!r}")
                if not receivers:
                    raise NotConnectedError(f"The node {node} that held {identity!r} is gone")
                reply = await self._wait(waiting, node, identity)
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

    async def _wait(self, waiting: _Waiting, node: str, identity: str) -> dict[str, Any] | None:
        """The reply; checks now and then that ``node`` lives and that this node listens."""
        while True:
            with trio.move_on_after(_NODE_CHECK):
                await waiting.done.wait()
                return waiting.reply
            there, here = await self._broker.listening([node, self.node_id])
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
    ) -> AbstractAsyncContextManager[EventStream]:
        """The event stream for ``consumer`` of consumer group ``group``, at least once:
        ``async with cluster.events(group="billing", consumer="b1") as events:`` then
        ``async for event in events: ...; await events.ack(event)``.

        First the events delivered to this consumer before and never acknowledged (it was
        stopped or crashed), then new ones, and the events that any consumer of the group left
        unacknowledged for ``claim_idle`` seconds (one that never came back; None: never take
        them over). A group is made on first use, from ``start``: "$" (the events appended from
        now on) or "0" (every event the stream still holds). ``count``: events per read.
        """
        reader = self._open(f"{self.node_id}/events")
        return open_event_stream(reader, group, consumer, start, count, claim_idle)

    def event_statistics(self) -> EventStatistics:
        """What this node recorded into the event stream, and what it did not (and why)."""
        return self._recorder.statistics()

    # -- for a server: membership (trio_ocpp.Server's cluster= hook) ---------------------------

    def claim(self, cp: ChargePoint) -> None:
        # Stamped now, in the broker's time: the moment the connection was accepted, whenever
        # the claim reaches the broker. Strictly increasing, so each value is unique.
        stamp = int(self._clock.estimate(trio.current_time()) * 1e6)
        self._last_stamp = stamp = max(stamp, self._last_stamp + 1)
        value = f"{self.node_id} {stamp}"
        self._held[cp.id] = _Held(cp, value)
        self._claims[cp.id] = value
        self._changed.set()
        if self._recorder.actions:
            cp.on_answered = self._recorder.record

    def release(self, cp: ChargePoint) -> None:
        held = self._held.get(cp.id)
        if held is None or held.cp is not cp:
            return  # given up already: another node took it over
        del self._held[cp.id]
        if self._claims.get(cp.id) == held.value:
            del self._claims[cp.id]  # gone before it was recorded
        self._releases[cp.id] = held.value
        self._changed.set()

    def _give_up(self, identity: str, value: str, newer: str | None) -> None:
        """A newer connection on another node holds ``identity`` (``newer``: its membership
        value, when known): close ours if it is still the one of ``value``."""
        held = self._held.get(identity)
        if held is None or held.value != value:
            return  # a newer connection here, or one we released
        del self._held[identity]
        self._claims.pop(identity, None)
        logger.warning(
            "%s: the connection here (%s) is replaced by a newer one (%s), closing it",
            escape(identity),
            _connection(value),
            _connection(newer),
        )
        self._nursery.start_soon(held.cp.aclose, REPLACED_CLOSE_CODE, _REPLACED)

    async def _keep_membership(self) -> None:
        """Record claims and releases as they come, in batches; refresh what this node holds."""
        interval = self._ttl / 3
        refresh_at = trio.current_time() + interval
        failing = False
        while True:
            with trio.move_on_at(refresh_at):
                await self._changed.wait()
            self._changed = trio.Event()
            releases, self._releases = self._releases, {}
            claims, self._claims = self._claims, {}
            refreshing = trio.current_time() >= refresh_at
            # A refresh is a claim of everything held: what another node took since, with a
            # newer connection, is given up here (its notice may have been lost).
            pairs = [(i, h.value) for i, h in self._held.items()] if refreshing else claims.items()
            try:
                if releases:
                    await self._broker.release(list(releases.items()))
                if pairs:
                    pairs = list(pairs)
                    for index, newer in await self._broker.claim(pairs, self._ttl):
                        self._give_up(*pairs[index], newer)
                if refreshing:
                    refresh_at = trio.current_time() + interval
            except ClusterUnavailableError as exc:
                # What was lost is recorded again by the next refresh; releases expire.
                if not failing:
                    logger.warning("membership not recorded, retrying: %s", exc)
                failing = True
                refresh_at = min(refresh_at, trio.current_time() + _RETRY)
            else:
                if failing:
                    logger.warning("membership recorded again")
                failing = False

    async def _receive(self, task_status: trio.TaskStatus[None]) -> None:
        await self._broker.subscribe()
        task_status.started()
        while True:
            try:
                message = _json.loads(await self._broker.receive())
                kind = message["t"]
                if kind == "call":
                    # Where to answer and until when, read here: a message without them is
                    # dropped below. The deadline, in our time from now on.
                    sender, request_id = str(message["from"]), str(message["id"])
                    deadline = message["deadline"]
                    if not isinstance(deadline, float) or not math.isfinite(deadline):
                        raise ValueError(f"not a deadline: {deadline!r}")
                    deadline = self._clock.last_local(deadline) - SEND_MARGIN
                    self._nursery.start_soon(self._serve, message, sender, request_id, deadline)
                elif kind == "reply":
                    waiting = self._waiting.get(message["id"])
                    if waiting is not None:
                        waiting.reply = message
                        waiting.done.set()
                elif kind == "replaced":
                    self._give_up(message["cp"], message["owner"], message.get("by"))
            except ClusterUnavailableError as exc:
                logger.warning("cannot receive from the broker: %s", exc)
                await trio.sleep(_RETRY)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("dropping a malformed cluster message: %s", escape(repr(exc)))

    async def _serve(
        self, message: dict[str, Any], sender: str, request_id: str, deadline: float
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
                while not await self._broker.send(sender, data):
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
        held = self._held.get(identity)
        if held is None:
            return {"closed": f"{identity!r} is not connected to {self.node_id}"}
        cp = held.cp
        if cp.ocpp_version != version:
            return {"type_error": f"{identity!r} speaks {cp.ocpp_version}, not {version}"}
        payload = payload_class(version, action, MessageKind.REQUEST).from_wire(message["payload"])
        with trio.move_on_at(deadline):
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

    async def _release_all(self) -> None:
        """On the way out: remove what this node still holds, while the broker answers."""
        held = [(identity, h.value) for identity, h in self._held.items()]
        held += list(self._releases.items())
        self._held.clear()
        # Shielded: this runs while the node is being cancelled. Else the keys expire.
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(_TRANSIT),
            contextlib.suppress(ClusterUnavailableError),
        ):
            await self._broker.release(held)


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
) -> AsyncIterator[Cluster]:
    """Join the cluster on the Redis (or Valkey) at ``url``, ``redis://[user:password@]host
    [:port][/db]`` (``rediss://``: TLS).

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
    limits = EventLimits(
        maxlen=events_maxlen,
        max_bytes=events_max_bytes,
        payload_limit=events_payload_limit,
        rate=events_rate,
        burst=events_burst,
        buffer=events_buffer,
        buffer_bytes=events_buffer_bytes,
    )
    node_id = _node_id()

    def opener(node: str) -> AbstractAsyncContextManager[Broker]:
        return open_redis(url, prefix, node)

    recorder = EventRecorder(frozenset(events), node_id, limits)
    clock = SharedClock()
    async with ungroup(trio.Cancelled), opener(node_id) as broker, trio.open_nursery() as nursery:
        for _ in range(3):  # the tightest of three samples
            await clock.measure(broker)
        cluster = Cluster(broker, nursery, node_id, opener, membership_ttl, recorder, clock)
        await nursery.start(cluster._receive)
        nursery.start_soon(cluster._keep_membership)
        nursery.start_soon(recorder.run, broker)
        nursery.start_soon(clock.keep_measuring, broker)
        try:
            yield cluster
        finally:
            await cluster._release_all()
            nursery.cancel_scope.cancel()

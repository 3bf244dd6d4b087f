"""The connection runtime: one ChargePoint per WebSocket connection, all its tasks in one nursery.

``start()`` opens the connection's nursery and reads frames until the connection closes. Each
inbound CALL is handled in a task of its own, so a handler may ``await self.call(...)`` back to
the peer while the reader goes on (CALLs cross each other, CONFORMANCE 26). A CALL whose handling
cannot await (a synchronous handler, the default ``pre_dispatch``, no ``@after`` hooks) is
answered by the reader itself, once its action was seen: a task would add nothing but its cost.
``call()`` sends one CALL at a time and waits for the response in a slot keyed by the message id;
when the connection ends, every waiting ``call()`` fails at once and running handlers are
cancelled (CONFORMANCE 28). A watchdog (the server's, for all its connections) wakes the
connection to send keep-alive pings, and to close it when its peer stopped reading
(``send_timeout``).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import trio

from .._core import errors
from .._core.casing import message_plan, object_to_wire
from .._core.frames import Call, CallError, CallResult, CallResultError, Frame, Send, unpack
from .._core.logsafe import FRAME_LIMIT, RepeatLimiter, escape
from .._core.payload import Payload, payload_class
from .._core.route_table import Outbound, RouteTable, Setting
from .._core.routing import Routes, create_route_map, routes_of
from .._core.schemas import MessageKind
from .._core.validation import FormatPolicy, check, compile_validator, validation_engine
from .._core.versions import OCPPVersion
from .._transport.adapters import Connection, as_connection
from .._transport.connection import ConnectionClosed
from .._transport.tls import ClientCertificate
from .inbound import InboundCalls
from .watchdog import Watchdog

__all__ = ["ChargePoint", "Connection", "ConnectionStatistics"]

logger = logging.getLogger("trio_ocpp.charge_point")

#: What every connection a ChargePoint runs on raises once it is closed (adapters included).
_CLOSED = ConnectionClosed


@attrs.frozen
class ConnectionStatistics:
    """A snapshot of one connection's counters (``ChargePoint.statistics()``)."""

    frames_received: int
    frames_sent: int
    calls_pending: int  # outbound calls waiting for a response
    handlers_running: int  # inbound CALLs being handled
    errors_sent: int  # CALLERROR / CALLRESULTERROR frames sent
    errors_received: int  # CALLERROR / CALLRESULTERROR frames received
    invalid_frames: int  # frames that were not valid OCPP-J RPC
    unmatched_responses: int  # responses with an unknown or late id
    round_trip_time: float | None  # seconds from the last ping to its pong; None before one


@attrs.define
class _Counters:
    frames_received: int = 0
    frames_sent: int = 0
    errors_sent: int = 0
    errors_received: int = 0
    invalid_frames: int = 0
    unmatched_responses: int = 0
    #: Invalid or unanswerable frames less valid ones, never below 0 (max_invalid_frames).
    misbehaviour: int = 0


@attrs.define(eq=False)
class _PendingCall:
    """Where the reader task puts the response to one outbound CALL."""

    action: str
    done: trio.Event = attrs.field(factory=trio.Event)
    response: CallResult | CallError | None = None
    error: errors.OCPPError | None = None

    def resolve(
        self,
        response: CallResult | CallError | None = None,
        error: errors.OCPPError | None = None,
    ) -> None:
        if not self.done.is_set():
            self.response, self.error = response, error
            self.done.set()


class ChargePoint(InboundCalls):
    """One OCPP-J connection, from either side: subclass it and mark handlers with ``@on``.

    Use the version's class (``trio_ocpp.v16.ChargePoint``, ``v201``, ``v21``). ``connection``
    is the WebSocket connection: ours (what ``Server`` and ``connect`` make), a trio-websocket
    or a ``websockets.trio`` one, or anything with ``get_message``, ``send_message`` and
    ``aclose``.
    """

    #: Set by the version packages' subclasses.
    _ocpp_version: ClassVar[OCPPVersion]
    _routes: ClassVar[Routes] = Routes({}, {})
    #: Looked-up routes, shared by the connections of a class.
    _route_tables: ClassVar[dict[Setting, RouteTable]] = {}
    #: pre_dispatch is the default no-op: a CALL to a synchronous handler never awaits.
    _plain_pre_dispatch: ClassVar[bool] = True
    #: The verified TLS client certificate of the connection (security profile 3), set by the
    #: server before ``start()``; None without one.
    client_certificate: ClientCertificate | None = None
    #: Called with each inbound CALL and its CALLRESULT once the answer went out (a cluster node
    #: records events with it); synchronous, so that it cannot hold up the connection.
    on_answered: Callable[[ChargePoint, Call, CallResult], None] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._routes = routes_of(cls)
        cls._route_tables = {}
        cls._plain_pre_dispatch = cls.pre_dispatch is ChargePoint.pre_dispatch

    def __init__(
        self,
        id: str,  # the ocpp package's name for it
        connection: Connection,
        response_timeout: float = 30,
        logger: logging.Logger = logger,
        *,
        receive_formats: FormatPolicy = FormatPolicy.LENIENT,
        typed: bool = False,
        max_invalid_frames: int = 100,
        max_concurrent_handlers: int = 16,
        send_timeout: float = 10,
        handler_timeout: float | None = 60,
        ping_interval: float = 60,
        pong_timeout: float = 20,
    ):
        """``response_timeout``: seconds a ``call()`` waits for its response. ``logger``: where
        this connection logs its frames and errors, also ``self.logger`` (the ``ocpp`` package's
        argument and attribute; by default ``trio_ocpp.charge_point``).

        ``receive_formats``: how strictly ``format`` (date-time, uri) is checked on received
        payloads; what we send is always checked strictly. ``typed``: handlers and ``call()``
        results get nested values as datatypes objects instead of snake_case dicts.
        ``max_invalid_frames``: the connection is closed (1002, CONFORMANCE 25) once the peer's
        invalid or unanswerable frames (responses to no call of ours, SENDs nobody handled)
        outnumber its valid ones by this many: a peer that mixes a few valid frames into many
        invalid ones is closed too. ``max_concurrent_handlers``: inbound CALLs handled at once;
        the peer should send one at a time, more are refused like a duplicate id; SENDs past it
        wait for a running one to finish.
        ``send_timeout``: seconds the connection may go without a frame going out while one
        waits to be sent (``pong_timeout`` if a ping is waiting for its pong then), before the
        peer is taken to have stopped reading and the connection is closed; watched while
        ``start()`` runs. It bounds the close handshake too.
        ``handler_timeout``: seconds an inbound CALL's ``pre_dispatch`` and handler may take
        (None: no limit); a handler past it is cancelled, logged, and its CALL answered with
        InternalError, so that a hung handler cannot hold its slot for good. The default leaves
        room for a handler that itself calls the peer (``response_timeout``), maybe after
        waiting for another call to finish. It bounds SEND handlers too.
        ``ping_interval`` (0 disables) and ``pong_timeout``: WebSocket keep-alive; a peer that
        does not answer a ping in time is taken to be gone and the connection is closed
        (CONFORMANCE 29).
        """
        if not hasattr(type(self), "_ocpp_version"):
            raise TypeError(
                "use the ChargePoint of a version: trio_ocpp.v16, trio_ocpp.v201 or trio_ocpp.v21"
            )
        self.id = id
        self._websocket = connection
        self._connection = as_connection(connection, send_timeout)
        self.logger = logger
        self._response_timeout = response_timeout
        self._receive_formats = receive_formats
        self._typed = typed
        self._max_invalid_frames = max_invalid_frames
        self._max_concurrent_handlers = max_concurrent_handlers
        self._send_timeout = send_timeout
        self._handler_timeout = math.inf if handler_timeout is None else handler_timeout
        self._ping_interval = ping_interval
        self._pong_timeout = pong_timeout
        # The one-CALL lock (CONFORMANCE 26), made by the first call(): idle connections are many.
        self._call_lock: trio.Lock | None = None
        self._pending: dict[str, _PendingCall] = {}
        self._inbound: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self._reader = trio.CancelScope()
        # For the watchdog (alarm()): frames being sent, when one last went out (or, with none in
        # flight before, when one started), when the next ping is due and whether one is out.
        self._sending = 0
        self._send_progress = 0.0
        self._next_ping = math.inf
        self._pinging = False
        # The server's watchdog (set before start()), or one of its own; its next wake-up.
        self._watchdog: Watchdog | None = None
        # A server's: told when the first CALL is answered (the peer proved to be a charge point).
        self._on_first_answer: Callable[[], None] | None = None
        self._alarm_at = math.inf
        # The run's clock; start() binds it directly (trio.current_time() looks it up each time).
        self._now = trio.current_time
        self._closed = False
        self._close_at_start: tuple[int, str | None] | None = None  # close_soon() before start()
        self._send_slots: trio.Semaphore | None = None  # SENDs being handled (made by the first)
        self._draining = False
        # Woken whenever an inbound CALL or outbound call() finishes: shutdown() waits on it.
        self._quieter: trio.lowlevel.ParkingLot | None = None
        self._counters = _Counters()
        # What the peer can make us warn about again and again is summarized past a burst: by
        # a limiter of the connection's own, or its server's (``_share_warnings``).
        self._warnings = RepeatLimiter(self.logger, escape(id))
        self._shared_warnings = False
        self._round_trip_time: float | None = None
        # The engine is read here: a connection keeps the validators it started with.
        setting = (receive_formats, typed, validation_engine())
        table = self._route_tables.get(setting)
        if table is None:
            table = self._route_tables[setting] = RouteTable(setting[2])
        self._table = table

    @property
    def route_map(self) -> dict[str, dict[str, Any]]:
        """The ``ocpp`` package's view of the routes (:func:`.routing.create_route_map`)."""
        return create_route_map(self)

    @property
    def ocpp_version(self) -> OCPPVersion:
        return self._ocpp_version

    @property
    def connection(self) -> Any:
        """The connection as it was given (a websockets one is read through an adapter)."""
        return self._websocket

    def statistics(self) -> ConnectionStatistics:
        c = self._counters
        return ConnectionStatistics(
            frames_received=c.frames_received,
            frames_sent=c.frames_sent,
            calls_pending=len(self._pending),
            handlers_running=len(self._inbound),
            errors_sent=c.errors_sent,
            errors_received=c.errors_received,
            invalid_frames=c.invalid_frames,
            unmatched_responses=c.unmatched_responses,
            round_trip_time=self._round_trip_time,
        )

    # -- running the connection ----------------------------------------------------------------

    async def start(self) -> None:
        """Serve the connection until it closes; then cancel handlers and fail pending calls."""
        if self._nursery is not None or self._closed:
            raise RuntimeError(f"{self.id}: a ChargePoint can be started only once")
        try:
            self._now = now = trio.lowlevel.current_clock().current_time
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._close_at_start is not None:
                    self.close_soon(*self._close_at_start)
                if self._watchdog is None:  # not one of a server's connections
                    self._watchdog = Watchdog()
                    nursery.start_soon(self._watchdog.run)
                if not self._shared_warnings:
                    self._warnings.alarms = self._watchdog  # summaries at each period's end
                if self._ping_interval > 0 and hasattr(self._connection, "ping"):
                    self._next_ping = now() + self._ping_interval
                # A frame may be on its way already (a server's application calls early).
                self._arm(min(self._next_ping, self._send_deadline()))
                with self._reader:
                    try:
                        while not self._closed:  # what came after aclose() goes unread
                            message = await self._connection.get_message()
                            await self.route_message(message)
                    except _CLOSED:
                        self.logger.info("%s: connection closed", escape(self.id))
                nursery.cancel_scope.cancel()
        finally:
            self._close()

    def _share_warnings(self, limiter: RepeatLimiter) -> None:
        """Warn through ``limiter`` (a server's), with the identity as the source: a peer that
        reconnects does not get a new budget with each connection."""
        self._warnings = limiter
        self._shared_warnings = True

    def _warn(self, message: str, *args: Any) -> None:
        """A warning the peer can make us repeat at will (see ``_warnings``)."""
        source = self.id if self._shared_warnings else ""
        self._warnings.warning(self._now(), message, *args, source=source, logger=self.logger)

    def _close(self) -> None:
        if not self._closed and not self._shared_warnings:
            self._warnings.flush(self._now())
        self._closed = True
        for pending in self._pending.values():
            pending.resolve(error=errors.ConnectionClosedError())

    async def _abort(self, reason: str) -> None:
        """Give up on a peer that stopped reading or answering: stop reading, close quickly."""
        self.logger.warning("%s: %s, closing the connection", escape(self.id), reason)
        self._reader.cancel()
        self._close()
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await self._connection.aclose(1011, reason)

    # The watchdog (_watchdog.py) wakes the connection when a frame being sent is overdue or,
    # with none in flight, when a ping is due (a ping would only queue behind a frame). _send
    # moves the alarm earlier when a frame starts on an idle connection or the last one in
    # flight went out, and only if it is later than due then, so a busy connection pays for the
    # timeout once per send_timeout, not once per frame as a cancel scope around each send
    # would.

    def _arm(self, at: float) -> None:
        if at < self._alarm_at and self._nursery is not None:  # start() arms what is due
            self._alarm_at = at
            self._watchdog.arm(at, self)  # type: ignore[union-attr]  # start() set it

    def alarm(self, at: float, now: float) -> None:
        """The watchdog's wake-up (:class:`~trio_ocpp._runtime.watchdog.Watched`)."""
        if at != self._alarm_at or self._closed:
            return  # superseded by an earlier alarm, or the connection is over
        self._alarm_at = math.inf
        assert self._nursery is not None  # armed by a started connection
        if now >= self._send_deadline():
            reason = f"no frame went out in {self._send_timeout:g} s"
            self._nursery.start_soon(self._abort, reason)
        elif self._pinging:
            pass  # the ping re-arms when its pong is in
        elif now >= self._next_ping and not self._sending:
            self._pinging = True
            self._nursery.start_soon(self._keep_alive)
        else:
            self._arm(self._send_deadline() if self._sending else self._next_ping)

    async def _keep_alive(self) -> None:
        try:
            if not await self._ping():
                return
        finally:
            self._pinging = False
        self._next_ping = self._now() + self._ping_interval
        self._arm(self._send_deadline() if self._sending else self._next_ping)

    def _send_deadline(self) -> float:
        return self._send_progress + self._send_timeout if self._sending else math.inf

    async def _ping(self) -> bool:
        """Ping and wait for the pong; False when the connection is gone or was closed."""
        sent = trio.current_time()
        with trio.move_on_after(self._pong_timeout) as waiting:
            try:
                await self._connection.ping()  # type: ignore[attr-defined]
            except _CLOSED:
                return False
        if waiting.cancelled_caught:
            await self._abort(f"no pong within {self._pong_timeout:g} s")
            return False
        self._round_trip_time = trio.current_time() - sent
        return True

    async def pre_dispatch(self, message: Call | Send) -> None:
        """Override (in a subclass) to refuse inbound CALLs (and SENDs) before they reach their
        handler.

        Raise an :class:`~trio_ocpp.exceptions.OCPPError` to answer a CALL with that error (a
        refused SEND is dropped). For example, 1.6-J errata 3.8: answer SecurityError to
        everything but BootNotification until the charge point was accepted.
        """

    async def shutdown(
        self, grace_period: float = 10, code: int = 1000, reason: str | None = None
    ) -> None:
        """Close gracefully: refuse new inbound CALLs, let running handlers and calls finish
        within ``grace_period`` seconds, then close the connection (cancelling what is left)."""
        self._draining = True
        with trio.move_on_after(grace_period):
            while self._inbound or self._pending or (self._call_lock and self._call_lock.locked()):
                if self._quieter is None:
                    self._quieter = trio.lowlevel.ParkingLot()
                await self._quieter.park()
        await self.aclose(code, reason)

    async def route_message(self, raw: str | bytes) -> None:
        """Handle one received frame (public so that tests can feed frames directly)."""
        counters = self._counters
        counters.frames_received += 1
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("%s: receive message %s", escape(self.id), escape(raw, FRAME_LIMIT))
        if isinstance(raw, bytes):
            # OCPP-J is text only; a binary message is invalid and never answered.
            await self._invalid_frame(None, "binary WebSocket message")
            return
        try:
            frame = unpack(raw, self._ocpp_version)
        except errors.OCPPError as exc:
            await self._invalid_frame(exc.reply, exc.description)
            return

        if isinstance(frame, Call):
            self._behaved()
            await self._start_call(frame)
        elif isinstance(frame, Send):
            # Handled in tasks of their own, at most max_concurrent_handlers at once: more wait
            # here (the peer's frames wait in turn), none is dropped.
            if self._send_slots is None:
                self._send_slots = trio.Semaphore(self._max_concurrent_handlers)
            await self._send_slots.acquire()
            if self._nursery is None:  # not started: tests calling route_message()
                await self._handle_send(frame)
            else:
                self._nursery.start_soon(self._handle_send, frame)
        elif isinstance(frame, CallResultError):
            # The peer says a CALLRESULT of ours was bad: nothing to resume, only to report.
            self._behaved()
            counters.errors_received += 1
            self._warn(
                "%s: peer rejected our response %s: %s",
                escape(self.id),
                escape(frame.unique_id),
                escape(frame.error_description),
            )
        else:
            if isinstance(frame, CallError):
                counters.errors_received += 1
            pending = self._pending.get(frame.unique_id)
            if pending is None or pending.done.is_set():
                counters.unmatched_responses += 1
                self._warn(
                    "%s: dropping response with unknown or late id %r",
                    escape(self.id),
                    frame.unique_id,
                )
                await self._misbehaved()
            else:
                self._behaved()
                pending.resolve(frame)

    async def _invalid_frame(self, reply: CallError | None, reason: str) -> None:
        self._counters.invalid_frames += 1
        self._warn("%s: invalid frame (%s)", escape(self.id), reason)
        if reply is not None:
            await self._send_quietly(reply)
        await self._misbehaved()

    def _behaved(self) -> None:
        """A valid frame: it offsets one invalid or unanswerable frame."""
        counters = self._counters
        if counters.misbehaviour:
            counters.misbehaviour -= 1

    async def _misbehaved(self) -> None:
        """A frame that was invalid, or that nobody could answer (a response to no call of
        ours, a SEND nobody handled): a peer whose such frames outnumber its valid ones by
        ``max_invalid_frames`` is closed with 1002 (CONFORMANCE 25, with a few valid frames
        mixed in counted too)."""
        counters = self._counters
        counters.misbehaviour += 1
        if counters.misbehaviour == self._max_invalid_frames:
            self._warn(
                "%s: %d more invalid or unanswerable frames than valid ones, closing",
                escape(self.id),
                counters.misbehaviour,
            )
            await self.aclose(1002, "too many invalid frames")

    # -- outbound --------------------------------------------------------------------------------

    def _outgoing(
        self, payload: Payload, kind: MessageKind, skip_schema_validation: bool
    ) -> tuple[Outbound, dict[str, Any]]:
        out = self._table.outbound.get(type(payload))
        if out is None or out.kind is not kind:
            out = self._new_outbound(payload, kind)
        wire = object_to_wire(payload.__ocpp_wire__(), out.casing)  # payload.to_wire()
        if not skip_schema_validation:
            check(out.request, out.action, kind, wire)
        return out, wire

    def _new_outbound(self, payload: Payload, kind: MessageKind) -> Outbound:
        if not isinstance(payload, Payload) or payload.__ocpp_kind__ is not kind:
            raise TypeError(f"expected a {kind.value} payload object, got {payload!r}")
        version, action = self._ocpp_version, payload.__ocpp_action__
        if payload.__ocpp_version__ != version:
            raise TypeError(
                f"{type(payload).__qualname__} is an OCPP {payload.__ocpp_version__} message; "
                f"this connection speaks {version}"
            )
        response = MessageKind.RESPONSE if kind is MessageKind.REQUEST else None  # SENDs have none
        engine = self._table.engine
        out = self._table.outbound[type(payload)] = Outbound(
            action=action,
            kind=kind,
            casing=message_plan(version, action, kind),
            request=compile_validator(version, action, kind, FormatPolicy.STRICT, engine),
            response=(
                compile_validator(version, action, response, self._receive_formats, engine)
                if response
                else None
            ),
            response_class=payload_class(version, action, response) if response else None,
        )
        return out

    async def call(
        self,
        payload: Payload,
        suppress: bool = False,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
    ) -> Any:
        """Send a CALL and return the peer's response as a ``call_result`` object.

        One CALL is outstanding at a time; others queue here. A CALLERROR raises its
        :class:`~trio_ocpp.exceptions.OCPPError` (``suppress=True``: returns None instead); no
        response within ``response_timeout`` raises :class:`~trio_ocpp.exceptions.CallTimeoutError`;
        a connection that closes raises :class:`~trio_ocpp.exceptions.ConnectionClosedError`.
        """
        out, wire = self._outgoing(payload, MessageKind.REQUEST, skip_schema_validation)
        call = Call(unique_id or str(uuid.uuid4()), out.action, wire)
        lock = self._call_lock
        if lock is None:
            lock = self._call_lock = trio.Lock()
        if lock.locked():
            await lock.acquire()
        else:
            # Free means nobody queues (trio hands a released lock to its next waiter), so take
            # it without acquire()'s trip through the scheduler; sending checkpoints anyway.
            lock.acquire_nowait()
        try:
            response = await self._exchange(call)
        finally:
            lock.release()
        if isinstance(response, CallError):
            if suppress:
                return None
            raise response.to_exception()
        return self._result_object(out, response, skip_schema_validation)

    async def _exchange(self, call: Call) -> CallResult | CallError:
        """Send ``call`` and wait for its response (the caller holds the one-CALL lock)."""
        if self._closed:
            raise errors.ConnectionClosedError()
        if call.unique_id in self._pending:
            raise ValueError(f"a call with id {call.unique_id!r} is already pending")
        pending = self._pending[call.unique_id] = _PendingCall(call.action)
        try:
            await self._send(call)
            with trio.move_on_after(self._response_timeout):
                await pending.done.wait()
        finally:
            del self._pending[call.unique_id]
            if self._quieter:  # shutdown() waits
                self._quieter.unpark_all()
        if pending.error is not None:
            raise pending.error
        if pending.response is None:
            raise errors.CallTimeoutError(
                action=call.action, unique_id=call.unique_id, timeout=self._response_timeout
            )
        return pending.response

    def _result_object(self, out: Outbound, result: CallResult, skip_validation: bool) -> Any:
        version = self._ocpp_version
        assert out.response is not None and out.response_class is not None  # a CALL's
        if not skip_validation:
            try:
                check(out.response, out.action, MessageKind.RESPONSE, result.payload)
            except errors.OCPPError as exc:
                if version == "2.1":
                    # 2.1 answers a bad CALLRESULT with a CALLRESULTERROR (CONFORMANCE 12).
                    reply = result.create_call_result_error(exc, version)
                    self._nursery_send(reply)
                raise
        return out.response_class.from_wire(result.payload, typed=self._typed)

    def _nursery_send(self, frame: Frame) -> None:
        if self._nursery is not None and not self._closed:
            self._nursery.start_soon(self._send_quietly, frame)

    async def _send_quietly(self, frame: Frame) -> bool:
        """Send from a task that must outlive a closed connection; False if it was closed."""
        try:
            await self._send(frame)
        except errors.ConnectionClosedError:
            return False
        return True

    async def send(self, payload: Payload, skip_schema_validation: bool = False) -> None:
        """Send a 2.1 SEND message: one-way, it may go out while a CALL is pending."""
        out, wire = self._outgoing(payload, MessageKind.SEND, skip_schema_validation)
        await self._send(Send(str(uuid.uuid4()), out.action, wire))
        await trio.lowlevel.checkpoint()  # our connection's sends do not yield by themselves

    async def _send(self, frame: Frame) -> None:
        text = frame.to_json()
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("%s: send %s", escape(self.id), escape(text, FRAME_LIMIT))
        if not self._sending:
            self._send_progress = self._now()
            due = self._send_progress + self._send_timeout
            if due < self._alarm_at:
                self._arm(due)
        self._sending += 1
        try:
            await self._connection.send_message(text)
        except _CLOSED:
            raise errors.ConnectionClosedError() from None
        finally:
            self._sending -= 1
            self._send_progress = self._now()
            if not self._sending and self._next_ping < self._alarm_at:
                # A ping put off while frames were going out is due now.
                self._arm(self._next_ping)
        counters = self._counters
        counters.frames_sent += 1
        if isinstance(frame, CallError):
            counters.errors_sent += 1

    def close_soon(self, code: int = 1000, reason: str | None = None) -> None:
        """Start :meth:`aclose` in the connection's own nursery and return at once (a server
        closes a connection that a newer one replaced so, without waiting for it)."""
        if self._nursery is None:
            self._close_at_start = (code, reason)
        elif not self._nursery.cancel_scope.cancel_called:  # not ending already
            self._nursery.start_soon(self.aclose, code, reason)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection; ``start()`` then returns.

        A peer that does not answer the close handshake within ``send_timeout`` (half-open, or
        hostile) is dropped without it, so that it cannot hold up whoever is closing.
        """
        try:
            with trio.move_on_after(self._send_timeout):
                await self._connection.aclose(code, reason)
        finally:
            self._close()  # pending calls fail now, not when the reader notices (CONFORMANCE 28)

"""The connection runtime: one ChargePoint per WebSocket connection, all its tasks in one nursery.

``start()`` opens the connection's nursery and reads frames until the connection closes; the
ChargePoint hands each to the part that deals with it and runs the connection's life. Its parts,
each with state of its own, hold no reference back to it:

- :class:`~.link.Link`: every frame goes out through it; with the watchdog (the server's, for
  all its connections) it sends keep-alive pings and gives up on a peer that stopped reading
  (``send_timeout``) or answering them.
- :class:`~.inbound.InboundCalls`: the peer's CALLs and SENDs, answered by the ChargePoint's
  handlers, some in tasks of their own (CALLs cross each other, CONFORMANCE 26).
- :class:`~.outbound.OutboundCalls`: ``call()``, one at a time, each waiting for its response in
  a slot keyed by its message id; ``send()``.
- :class:`~.conduct.Conduct`: the peer's counters and the balance of its invalid frames.
- :class:`~.observe.Observers`: what the application watches (frames, exchanges, the
  connection's opening and end).

Its life, for the application: ``connected()`` runs in the connection's nursery once it is open,
while frames are already served; ``disconnected(code, reason)`` runs once when it ended,
whatever ended it. When the connection ends, every waiting ``call()`` fails at once and running
handlers are cancelled (CONFORMANCE 28), then ``disconnected()`` runs, shielded and bounded.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import attrs
import trio

from .._core import close_codes, errors
from .._core.frames import Call, CallError, CallResult, CallResultError, Send, unpack
from .._core.logsafe import FRAME_LIMIT, RECEIVED_FRAME, RepeatLimiter, escape
from .._core.payload import Payload
from .._core.route_table import RouteTable, Setting, no_handler
from .._core.routing import Handler, Handlers, create_route_map, handlers_of
from .._core.schemas import MessageKind
from .._core.ungroup import ungroup
from .._core.validation import FormatPolicy, validation_engine
from .._core.versions import OCPPVersion
from .._transport.adapters import Connection, as_connection, describe
from .._transport.connection import ConnectionClosed
from .._transport.tls import ClientCertificate
from .conduct import Conduct
from .ending import Ending
from .inbound import InboundCalls
from .link import Link
from .observe import ConnectionInfo, Observer, Observers
from .outbound import OutboundCalls
from .watchdog import Watchdog

__all__ = ["ChargePoint", "Connection", "ConnectionStatistics"]

#: One for every connection (it holds nothing of a use): an object less that each connection
#: keeps while it runs.
UNGROUPED = ungroup(trio.Cancelled)

#: Seconds ``connected()`` waits for the end of the connection it replaced (its
#: ``disconnected()`` first), and ``disconnected()`` may take.
LIFECYCLE_TIMEOUT = 10

logger = logging.getLogger("trio_ocpp.charge_point")


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


class ChargePoint(Ending):
    """One OCPP-J connection, from either side: subclass it and mark handlers with ``@on``.

    Use the version's class (``trio_ocpp.v16.ChargePoint``, ``v201``, ``v21``). ``connection``
    is the WebSocket connection: ours (what ``Server`` and ``connect`` make), a trio-websocket
    or a ``websockets.trio`` one, or anything with ``get_message``, ``send_message`` and
    ``aclose``.
    """

    #: Set by the version packages' subclasses.
    _ocpp_version: ClassVar[OCPPVersion]
    _handlers: ClassVar[Handlers] = Handlers({}, {})
    #: Compiled routes, shared by the connections of a class.
    _route_tables: ClassVar[dict[Setting, RouteTable]] = {}
    #: pre_dispatch is the default no-op: a CALL to a synchronous handler never awaits.
    _plain_pre_dispatch: ClassVar[bool] = True
    #: connected() and disconnected() are the default no-ops: start() runs no task nor scope
    #: for them (a task costs a connection as much as its handshake's parse and checks).
    _plain_connected: ClassVar[bool] = True
    _plain_disconnected: ClassVar[bool] = True
    #: The verified TLS client certificate of the connection (security profile 3), set by the
    #: server before ``start()``; None without one.
    client_certificate: ClientCertificate | None = None
    #: Seconds ``disconnected()`` may take before it is cancelled.
    disconnected_timeout: ClassVar[float] = LIFECYCLE_TIMEOUT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers = handlers_of(cls)
        if cls.fallback is not ChargePoint.fallback:
            fallback = Handler("fallback", inspect.iscoroutinefunction(cls.fallback), None, False)
            handlers = attrs.evolve(handlers, fallback=fallback)
        cls._handlers = handlers
        cls._route_tables = {}
        cls._plain_pre_dispatch = cls.pre_dispatch is ChargePoint.pre_dispatch
        cls._plain_connected = cls.connected is ChargePoint.connected
        cls._plain_disconnected = cls.disconnected is ChargePoint.disconnected

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
        observers: Iterable[Observer] = (),
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
        ``observers``: :class:`~trio_ocpp.Observer` objects told of this connection's frames,
        exchanges, opening and end (a server's and a client's are added to these).
        """
        if not hasattr(type(self), "_ocpp_version"):
            raise TypeError(
                "use the ChargePoint of a version: trio_ocpp.v16, trio_ocpp.v201 or trio_ocpp.v21"
            )
        self.id = id
        self._websocket = connection
        self._connection = as_connection(connection, send_timeout)
        self.logger = logger
        version = self._ocpp_version
        # The engine is read here: a connection keeps the validators it started with.
        setting = (receive_formats, validation_engine())
        table = self._route_tables.get(setting)
        if table is None:
            table = self._route_tables[setting] = RouteTable(
                version, self._handlers, self._plain_pre_dispatch, *setting
            )
        # The parts: each has state of its own and holds no reference back to this object.
        self._conduct = conduct = Conduct(id, logger, max_invalid_frames)
        self._link = link = Link(
            id,
            logger,
            self._connection,
            send_timeout=send_timeout,
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
        )
        self._calls = OutboundCalls(
            version, table, link, response_timeout=response_timeout, typed=typed
        )
        self._inbound = InboundCalls(
            version,
            table,
            link,
            conduct,
            id,
            logger,
            typed=typed,
            max_concurrent_handlers=max_concurrent_handlers,
            handler_timeout=math.inf if handler_timeout is None else handler_timeout,
        )
        self._nursery: trio.Nursery | None = None
        self._close_at_start: tuple[int, str | None] | None = None  # close_soon() before start()
        # A server's (set before start()); else start() runs one of the connection's own.
        self._watchdog: Watchdog | None = None
        # A server's: told when the first CALL is answered (the peer proved to be a charge point).
        self._on_first_answer: Callable[[], None] | None = None
        # A server's: the connection this one replaced ended (connected() waits for it).
        self._predecessor: trio.Event | None = None
        # A server's: called when the connection ended, before disconnected().
        self._on_end: Callable[[ChargePoint], None] | None = None
        # When start() is cancelled with the connection open (the owner stops): how to close it,
        # (code, reason, seconds for the close handshake).
        self._farewell: Callable[[], tuple[int, str, float]] = self._leaving
        self._observers: list[Observer] = list(observers)
        self._opened_at: float | None = None  # by start()
        self._watch(self._observers)

    def _watch(self, observers: list[Observer]) -> None:
        watching = Observers(observers) if observers else None
        self._watching = self._link.observers = watching
        self._calls.observers = self._inbound.observers = watching

    def add_observer(self, observer: Observer) -> None:
        """Tell ``observer`` of this connection from now on (of its opening too, if it is not
        open yet)."""
        self._observers.append(observer)
        self._watch(self._observers)
        if self._opened_at is not None:  # open already
            assert self._watching is not None
            self._watching.info = self._info(self._opened_at)

    def _info(self, opened_at: float) -> ConnectionInfo:
        side, remote = describe(self._websocket)
        return ConnectionInfo(self.id, self._ocpp_version, side, remote, opened_at)

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
        conduct, link = self._conduct, self._link
        return ConnectionStatistics(
            frames_received=conduct.frames_received,
            frames_sent=link.frames_sent,
            calls_pending=len(self._calls.pending),
            handlers_running=len(self._inbound.running),
            errors_sent=link.errors_sent,
            errors_received=conduct.errors_received,
            invalid_frames=conduct.invalid_frames,
            unmatched_responses=conduct.unmatched_responses,
            round_trip_time=link.round_trip_time,
        )

    # -- running the connection ----------------------------------------------------------------

    async def start(self) -> None:
        """Serve the connection until it closes; then cancel handlers, fail pending calls and
        run ``disconnected()``. Cancelled while the connection is open, it closes it (1000; a
        server's connections with 1001)."""
        link = self._link
        if self._nursery is not None or link.closed:
            raise RuntimeError(f"{self.id}: a ChargePoint can be started only once")
        ended: tuple[int, str] | None = None  # the Close the reader saw
        try:
            async with UNGROUPED, trio.open_nursery() as nursery:
                self._nursery = self._inbound.tasks = nursery
                if self._close_at_start is not None:
                    self.close_soon(*self._close_at_start)
                watchdog = self._watchdog
                if watchdog is None:  # not one of a server's connections
                    watchdog = self._watchdog = Watchdog()
                    nursery.start_soon(watchdog.run)
                self._conduct.start(watchdog)
                link.start(nursery, watchdog)
                self._opened()
                if not self._plain_connected:
                    nursery.start_soon(self._run_connected)
                with link.reader:
                    try:
                        while not link.closed:  # what came after aclose() goes unread
                            message = await self._connection.get_message()
                            await self.route_message(message)
                    except ConnectionClosed as exc:
                        # Not the exception: its traceback holds this frame (a cycle).
                        ended = exc.code, exc.reason
                        self.logger.info("%s: connection closed", escape(self.id))
                if link.closed:  # by us, or the link gave up: calls fail before handlers end
                    self._close()
                nursery.cancel_scope.cancel()
        finally:
            self._close()
            if self._nursery is not None:  # it was started: its life ends here
                if self._on_end is not None:
                    self._on_end(self)
                known = self._close_reason(ended)
                if known is not None and self._plain_disconnected:
                    self._told_closed(*known)  # nothing to wait for: no shielded scope
                else:
                    with trio.CancelScope(shield=True):
                        await self._end(known)

    def _opened(self) -> None:
        self._opened_at = time.time()
        watching = self._watching
        if watching is not None:
            watching.info = self._info(self._opened_at)
            watching.opened()

    async def _run_connected(self) -> None:
        """``connected()``, once the connection it replaced has ended; its failure closes this
        connection."""
        if self._predecessor is not None:
            with trio.move_on_after(LIFECYCLE_TIMEOUT):
                await self._predecessor.wait()
        try:
            await self.connected()
        except errors.ConnectionClosedError:
            pass  # a call() that the connection's end cut short
        except Exception:
            self.logger.exception("%s: connected() failed, closing", escape(self.id))
            await self.aclose(close_codes.INTERNAL_ERROR, "connected() failed")

    async def _end(self, known: tuple[int, str] | None) -> None:
        """The connection is over (shielded; the server told already): close the connection
        if its owner cancelled us (``known`` None), then tell the observers and
        ``disconnected()``."""
        if known is None:  # cancelled by its owner with the connection open: close it
            code, reason, seconds = self._farewell()
            with trio.move_on_after(seconds):
                await self._link.aclose(code, reason)
            known = self._close_reason(None) or (code, reason)
        code, reason = known
        if self._plain_disconnected:
            self._told_closed(code, reason)
            return
        if self._watching is not None:
            self._watching.closed(code, reason)
        try:
            with trio.move_on_after(self.disconnected_timeout) as limit:
                await self.disconnected(code, reason)
            if limit.cancelled_caught:
                self.logger.error(
                    "%s: disconnected() did not finish within %g s, cancelled",
                    escape(self.id),
                    self.disconnected_timeout,
                )
        except Exception:
            self.logger.exception("%s: disconnected() failed", escape(self.id))
        finally:
            self._mark_ended()  # after disconnected()

    def _told_closed(self, code: int, reason: str) -> None:
        """The observers told, and no ``disconnected()`` to run: the end is complete."""
        if self._watching is not None:
            self._watching.closed(code, reason)
        self._mark_ended()

    def _close_reason(self, ended: tuple[int, str] | None) -> tuple[int, str] | None:
        """Why the connection ended; None if it did not (nobody closed it)."""
        if ended is not None:
            return ended
        closed = getattr(self._connection, "closed", None)
        if isinstance(closed, ConnectionClosed):
            return closed.code, closed.reason
        return self._link.close_sent

    @staticmethod
    def _leaving() -> tuple[int, str, float]:
        return close_codes.NORMAL, "", 1.0

    async def connected(self) -> None:
        """Override to act once the connection is open: it runs in the connection's nursery
        while frames are already being served (a handler may run before or beside it), and
        may ``await self.call(...)``. On a server the connection is registered by then
        (``server.get(id)`` finds it) and a connection it replaced has had its
        ``disconnected()``. An exception is logged and closes this connection (1011)."""

    async def disconnected(self, code: int, reason: str) -> None:
        """Override to act once the connection ended, whatever ended it: runs exactly once for
        each ``start()``, after pending calls failed and handlers were cancelled, shielded
        from cancellation and cancelled after ``disconnected_timeout`` seconds. ``code`` and
        ``reason``: the Close frame received, else the one sent (1006: no closing
        handshake). On a server the connection is no longer registered by then. The
        connection is closed: ``call()`` raises ConnectionClosedError."""

    async def fallback(self, action: str, payload: dict[str, Any], unique_id: str) -> Any:
        """Override to answer the CALLs that no ``@on`` handler takes: ``payload`` is snake_case
        and validated for an action the version knows, as received for others. Return a
        call_result object or a dict, or raise an OCPPError. Not overridden, such CALLs are
        answered NotSupported (an action the version knows) or NotImplemented, as this
        default does."""
        raise no_handler(self._ocpp_version, action, MessageKind.REQUEST)

    def _share_warnings(self, limiter: RepeatLimiter) -> None:
        """Warn through ``limiter`` (a server's): :meth:`.conduct.Conduct.share`."""
        self._conduct.share(limiter)

    def _close(self) -> None:
        self._link.closed = True
        self._conduct.flush()
        self._calls.fail()

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
        inbound, calls = self._inbound, self._calls
        inbound.draining = True
        quieter = inbound.quieter
        if quieter is None:  # each wakes it as a handler or a call finishes
            quieter = inbound.quieter = calls.quieter = trio.lowlevel.ParkingLot()
        with trio.move_on_after(grace_period):
            while inbound.running or calls.busy:
                await quieter.park()
        await self.aclose(code, reason)

    async def route_message(self, raw: str | bytes) -> None:
        """Handle one frame received: ``start()`` calls it for each (a CALL's handler may run in
        a task of the connection's own, so the ChargePoint must have been started)."""
        conduct = self._conduct
        conduct.frames_received += 1
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(RECEIVED_FRAME, escape(self.id), escape(raw, FRAME_LIMIT))
        watching = self._watching
        if isinstance(raw, bytes):
            if watching is not None:
                watching.received(raw, None)
            # OCPP-J is text only; a binary message is invalid and never answered.
            await self._invalid_frame(None, "binary WebSocket message")
            return
        try:
            frame = unpack(raw, self._ocpp_version)
        except errors.OCPPError as exc:
            if watching is not None:
                watching.received(raw, None)
            await self._invalid_frame(exc.reply, exc.description)
            return
        if watching is not None:
            if type(frame) is CallResult or type(frame) is CallError:
                frame = self._calls.named(frame)  # observers see what it answers
                watching.received(raw, frame)
            elif watching.answers_told or type(frame) is not Call:  # else: with its answer
                watching.received(raw, frame)

        if isinstance(frame, Call):
            if conduct.misbehaviour:
                conduct.behaved()
            await self._inbound.receive_call(self, frame)
        elif isinstance(frame, Send):
            await self._inbound.receive_send(self, frame)
        elif isinstance(frame, CallResultError):
            # The peer says a CALLRESULT of ours was bad: nothing to resume, only to report.
            conduct.behaved()
            conduct.errors_received += 1
            conduct.warn(
                "%s: peer rejected our response %s: %s",
                escape(self.id),
                escape(frame.unique_id),
                escape(frame.error_description),
            )
        else:
            if isinstance(frame, CallError):
                conduct.errors_received += 1
            if self._calls.resolve(frame):
                conduct.behaved()
            else:
                conduct.unmatched_responses += 1
                conduct.warn(
                    "%s: dropping response with unknown or late id %r",
                    escape(self.id),
                    frame.unique_id,
                )
                await conduct.misbehaved(self.aclose)

    async def _invalid_frame(self, reply: CallError | None, reason: str) -> None:
        conduct = self._conduct
        conduct.invalid_frames += 1
        conduct.warn("%s: invalid frame (%s)", escape(self.id), reason)
        if reply is not None:
            await self._link.send_quietly(reply)
        await conduct.misbehaved(self.aclose)

    # -- outbound --------------------------------------------------------------------------------

    async def call(
        self,
        payload: Payload,
        suppress: bool = False,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Send a CALL and return the peer's response as a ``call_result`` object.

        One CALL is outstanding at a time; others queue here. A CALLERROR raises its
        :class:`~trio_ocpp.exceptions.OCPPError` (``suppress=True``: returns None instead); no
        response within ``timeout`` seconds of sending (None: ``response_timeout``) raises
        :class:`~trio_ocpp.exceptions.CallTimeoutError`, and a response that comes later is
        dropped as unmatched; a connection that closes raises
        :class:`~trio_ocpp.exceptions.ConnectionClosedError`. The wait for its turn is not
        limited: put the call in ``trio.move_on_after`` to bound the whole of it.
        """
        return await self._calls.call(payload, suppress, unique_id, skip_schema_validation, timeout)

    async def send(self, payload: Payload, skip_schema_validation: bool = False) -> None:
        """Send a 2.1 SEND message: one-way, it may go out while a CALL is pending."""
        await self._calls.send(payload, skip_schema_validation)

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
            await self._link.aclose(code, reason)
        finally:
            self._close()  # pending calls fail now, not when the reader notices (CONFORMANCE 28)

"""Observers: what an application sees of its connections' traffic, without being in its way.

An :class:`Observer` is told when a connection opens and closes, of every frame received and
sent, and of every exchange that completed (a CALL and what became of it), in both directions.
Audit logs, metrics, recorders and the cluster's event stream are observers.

Its methods are synchronous and run on the connection's own task, at the moment the thing
happens: an observer cannot hold up a connection by awaiting, and sees events in their order.
One that needs I/O (a database, a socket) hands the event to a task of its own, through a
``trio`` memory channel with a bound it chooses (``send_nowait``, and count what it drops).
An exception from an observer is logged (a few lines per period, then counted) and the
connection goes on.

A connection with no observer pays one ``is None`` test per frame; the events are built only
when there is someone to tell.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

import attrs
import trio

from .._core.frames import Call, CallError, CallResult, CallResultError, Frame
from .._core.logsafe import RepeatLimiter, escape
from .._core.versions import OCPPVersion

__all__ = [
    "REFUSALS",
    "ConnectionInfo",
    "Direct",
    "Direction",
    "ExchangeRecord",
    "Observer",
    "Observers",
    "Outcome",
    "Reply",
    "failed",
]

logger = logging.getLogger("trio_ocpp.observer")

_make_tuple = tuple.__new__

#: Observer failures: a few lines per kind and 10 s, then one line that counts them.
_failures = RepeatLimiter(logger, "observer", burst=3)


@attrs.frozen
class ConnectionInfo:
    """One connection, as observers are told of it: made once, when it opens."""

    identity: str
    version: OCPPVersion
    #: The side we are on: ``"server"`` (a central system, the peer is a charge point) or
    #: ``"client"``.
    side: Literal["server", "client"]
    #: The peer's ``host:port`` where the connection knows it, else None.
    remote_address: str | None
    #: When it opened, in seconds since the epoch (``time.time()``).
    opened_at: float


class Direction(enum.Enum):
    """Who sent a frame, or who made a CALL."""

    #: The peer sent the frame, or made the CALL (we answered it).
    INBOUND = "inbound"
    #: We sent the frame, or made the CALL (``ChargePoint.call``).
    OUTBOUND = "outbound"


class Outcome(enum.Enum):
    """What became of a CALL."""

    #: Answered with a CALLRESULT that was valid (or not checked).
    RESULT = "result"
    #: Answered with a CALLERROR.
    ERROR = "error"
    #: Answered with a CALLRESULT (``reply``) that failed our validation: ``call()`` raised
    #: (and in 2.1 a CALLRESULTERROR went back).
    INVALID_RESULT = "invalid_result"
    #: No answer in time: ``call()`` raised CallTimeoutError.
    TIMEOUT = "timeout"
    #: The connection closed before the answer came (outbound) or went out (inbound).
    CLOSED = "closed"


#: What answered a CALL: None when nothing did (TIMEOUT, CLOSED).
Reply = CallResult | CallError | CallResultError | None


class ExchangeRecord(NamedTuple):
    """A CALL and what became of it (a named tuple: one is made per CALL observed)."""

    direction: Direction
    call: Call
    #: The answer, None for TIMEOUT and CLOSED.
    reply: CallResult | CallError | CallResultError | None
    outcome: Outcome
    #: When the CALL was sent (outbound) or received (inbound), seconds since the epoch.
    started_at: float
    #: Wall-clock seconds from then to the answer, or to the timeout or the close.
    latency: float


# The members as constants for the hot path (see ``_core.schemas.REQUEST``).
INBOUND, OUTBOUND = Direction.INBOUND, Direction.OUTBOUND
RESULT, ERROR, INVALID_RESULT = Outcome.RESULT, Outcome.ERROR, Outcome.INVALID_RESULT
TIMEOUT, CLOSED = Outcome.TIMEOUT, Outcome.CLOSED


#: Why a server refused an opening handshake (:meth:`Observer.handshake_refused`): a closed set,
#: so that it can label a metric. ``auth``: Basic credentials or the client certificate;
#: ``identity``: not a valid identity; ``subprotocol``: none we speak, or an invalid header;
#: ``upgrade``: not a valid WebSocket upgrade; ``limits``: the server is full or stopping;
#: ``tls``: the TLS handshake failed; ``application``: ``on_connect`` raised RejectConnection.
REFUSALS = ("auth", "identity", "subprotocol", "upgrade", "limits", "tls", "application")


class Observer:
    """Override what you want to be told of; each method is a no-op here.

    Install observers with ``Server(..., observers=[...])`` (all its connections),
    ``connect(..., observers=[...])``, ``Client(..., observers=[...])`` or
    ``ChargePoint(..., observers=[...])``; several may be installed. Methods are synchronous
    (module docstring): hand anything slow to a task of your own.
    """

    def connection_opened(self, connection: ConnectionInfo) -> None:
        """The connection is open and its ChargePoint runs (``start()``)."""

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        """The connection ended: the WebSocket close ``code`` and ``reason`` (1006: it ended
        without a closing handshake), ``duration`` in seconds since it opened."""

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        """A message from the peer: its ``text`` as received, the parsed ``frame`` (None when
        it was no valid OCPP-J frame), ``at`` seconds since the epoch."""

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        """A frame we sent, once the connection took it."""

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        """A CALL, in either direction, and what became of it."""

    def handshake_refused(self, remote: str, reason: str) -> None:
        """A server refused an opening handshake from ``remote`` (``host:port``) for
        ``reason``, one of :data:`REFUSALS`; no connection opened. Servers only."""


_HOOKS = ("connection_opened", "connection_closed", "frame_received", "frame_sent", "exchange")


def overrides(observer: Observer, hook: str) -> bool:
    """Does ``observer`` do anything on ``hook``? (Duck-typed ones are taken to.)"""
    method = getattr(type(observer), hook, None)
    return method is not None and method is not getattr(Observer, hook)


Received = Callable[[str | bytes, Frame | None], None]
Sent = Callable[[str, Frame], None]
Exchanged = Callable[[Direction, Call, Reply, Outcome, float], None]


class Direct(NamedTuple):
    """An observer's frame and exchange hooks for one connection, called as the connection
    calls :class:`Observers` (a frame as it came; a CALL with ``time.perf_counter()`` when it
    started): no wall-clock reading, no record, no call between. None: no direct form.

    Private to the package (metrics): an observer offers them with ``direct_hooks(info)``, and
    they are used when it is the only one listening to the event. They must not raise (report
    a failure with :func:`failed`) and must do what its public hook would.

    ``answered``: an inbound CALL's end told together with its frames, what ``received`` of
    the CALL, ``sent`` of its answer (if it went out) and ``exchanged`` would do. Used when
    the observer alone listens to all three: the connection then calls it alone for those
    frames, at the end of the exchange (two calls less per CALL).
    """

    received: Received | None
    sent: Sent | None
    exchanged: Exchanged | None
    answered: Exchanged | None = None


#: The events a connection tells, with the public hook each stands for.
_DIRECT = (("received", "frame_received"), ("sent", "frame_sent"), ("exchanged", "exchange"))


class Observers:
    """The observers of one connection, by what they listen to: an event nobody listens to
    costs a call that does nothing.

    ``received``, ``sent`` and ``exchanged`` are attributes, set when ``info`` is (the
    connection opened): a :class:`_Telling`'s methods with the hooks listening, or, where one
    observer alone listens and offers a :class:`Direct` hook, that hook (a call less per
    event). None of them refers back to this object: a cycle would keep each ended
    connection's observers until a garbage collection.

    ``answered`` ends an inbound exchange: ``exchanged``, or :attr:`Direct.answered`, and then
    ``answers_told`` is False: the connection tells neither the CALL received nor the answer
    sent on their own."""

    __slots__ = (
        "_info",
        "_only",
        "answered",
        "answers_told",
        "exchanged",
        "received",
        "sent",
        *(f"_{h}" for h in _HOOKS),
    )

    def __init__(self, observers: Iterable[Observer]) -> None:
        observers = tuple(observers)
        for hook in _HOOKS:
            bound = tuple(getattr(o, hook) for o in observers if overrides(o, hook))
            setattr(self, f"_{hook}", bound)
        #: By event, the observer that alone listens to it.
        self._only: dict[str, Observer] = {}
        for event, hook in _DIRECT:
            listening = [o for o in observers if overrides(o, hook)]
            if len(listening) == 1:
                self._only[event] = listening[0]
        self.info = None

    @property
    def info(self) -> ConnectionInfo | None:
        """The connection, once it opened."""
        return self._info

    @info.setter
    def info(self, info: ConnectionInfo | None) -> None:
        self._info = info
        self.received = self.sent = self.exchanged = self.answered = _ignore
        self.answers_told = True
        if info is not None:
            self._choose_hooks(info)

    def _choose_hooks(self, info: ConnectionInfo) -> None:
        if self._frame_received:
            self.received = _Telling(info, self._frame_received).framed
        if self._frame_sent:
            self.sent = _Telling(info, self._frame_sent).framed
        if self._exchange:
            self.exchanged = _Telling(info, self._exchange).exchanged
        offered: dict[int, Direct] = {}  # by observer: asked once
        for event, _ in _DIRECT:
            only = self._only.get(event)
            offer = getattr(only, "direct_hooks", None)
            if offer is None:
                continue
            direct = offered.get(id(only))
            if direct is None:
                direct = offered[id(only)] = offer(info)
            hook = getattr(direct, event)
            if hook is not None:
                setattr(self, event, hook)
        self.answered = self.exchanged
        alone = {id(only) for only in self._only.values()}
        if len(self._only) == len(_DIRECT) and len(alone) == 1 and alone == offered.keys():
            (direct,) = offered.values()
            if direct.answered is not None and None not in direct:  # all direct, and together
                self.answered, self.answers_told = direct.answered, False

    def opened(self) -> None:
        if self._info is not None:
            self.tell(self._connection_opened, self._info)

    def closed(self, code: int, reason: str) -> None:
        info = self._info
        if info is not None:
            duration = time.time() - info.opened_at
            self.tell(self._connection_closed, info, code, reason, duration)

    @property
    def wants_frames(self) -> bool:
        return bool(self._frame_received or self._frame_sent)

    @property
    def wants_exchanges(self) -> bool:
        return bool(self._exchange)

    @staticmethod
    def tell(hooks: tuple[Callable[..., Any], ...], *args: Any) -> None:
        """Call each of ``hooks`` with ``args``, a failing one logged (for events that are
        rare: a connection's opening and end, a refused handshake)."""
        for hook in hooks:
            try:
                hook(*args)
            except Exception as exc:
                failed(hook, exc)

    _connection_opened: tuple[Callable[..., Any], ...]
    _connection_closed: tuple[Callable[..., Any], ...]
    _frame_received: tuple[Callable[..., Any], ...]
    _frame_sent: tuple[Callable[..., Any], ...]
    _exchange: tuple[Callable[..., Any], ...]


def _ignore(*args: Any) -> None:
    """An event nobody listens to."""


class _Telling:
    """Tells ``hooks`` of one connection's frames, or of its exchanges. Its bound methods are
    the events' functions: a call of one runs in the caller's evaluation loop (a partial would
    enter a new one). The hooks are called in loops written out in each method: ``tell``,
    taking ``*args``, would cost a tuple and a call per event on the hot path."""

    __slots__ = ("hooks", "info")

    def __init__(self, info: ConnectionInfo, hooks: tuple[Callable[..., Any], ...]) -> None:
        self.info, self.hooks = info, hooks

    def framed(self, text: str | bytes, frame: Frame | None) -> None:
        """A frame received or sent (``frame``: None if it was unreadable)."""
        at = time.time()
        for hook in self.hooks:
            try:
                hook(self.info, text, frame, at)
            except Exception as exc:
                failed(hook, exc)

    def exchanged(
        self,
        direction: Direction,
        call: Call,
        reply: Reply,
        outcome: Outcome,
        started: float,
    ) -> None:
        """``started``: ``time.perf_counter()`` when the CALL went out or came in (a C call:
        the run's clock, a Python one, would cost two frames per exchange; the latency is wall
        time, under a test's MockClock too)."""
        latency = time.perf_counter() - started
        # tuple.__new__: a third of the time of the named tuple's own __new__.
        fields = (direction, call, reply, outcome, time.time() - latency, latency)
        record: ExchangeRecord = _make_tuple(ExchangeRecord, fields)
        for hook in self.hooks:
            try:
                hook(self.info, record)
            except Exception as exc:
                failed(hook, exc)


def failed(hook: Callable[..., Any], exc: Exception) -> None:
    """Report that ``hook`` raised ``exc`` (a few lines per period, then counted)."""
    name = getattr(hook, "__qualname__", repr(hook))
    _failures.warning(trio.current_time(), "%s failed: %s", name, escape(repr(exc)), source=name)

"""A ChargePoint's connection as its runtime drives it: frames out, keep-alive, giving up.

Every frame goes out through the :class:`Link`, which logs, counts and times it. So it knows
when a frame is overdue: the watchdog (:mod:`.watchdog`) wakes it when one has been going out
for longer than ``send_timeout`` or, with none in flight, when a keep-alive ping is due (a ping
would only queue behind a frame). ``send`` moves the alarm earlier when a frame starts on an idle
connection or the last one in flight went out, and only if it is later than due then, so a busy
connection pays for the timeout once per ``send_timeout``, not once per frame as a cancel scope
around each send would. A peer that stopped reading or answering pings is given up on: the Link
cancels its ``reader`` (the ChargePoint's read loop, which then closes the ChargePoint) and closes
the connection quickly.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NoReturn, Protocol

import attrs
import trio

from .._core import close_codes, errors
from .._core.frames import CallError, Frame
from .._core.logsafe import FRAME_LIMIT, SENT_FRAME, escape
from .._transport.adapters import Connection
from .._transport.connection import ConnectionClosed
from .observe import Observers
from .watchdog import Watchdog

__all__ = ["NOT_STARTED", "Link", "Tasks"]


class Tasks(Protocol):
    """Where a connection's tasks run: its nursery, once ``ChargePoint.start()`` opened it."""

    def start_soon(self, async_fn: Any, *args: Any, name: object = None) -> None: ...


class _NotStarted:
    """The tasks of a ChargePoint that was not started: none can run."""

    def start_soon(self, async_fn: Any, *args: Any, name: object = None) -> NoReturn:
        raise RuntimeError("the ChargePoint was not started: start() runs its tasks")


NOT_STARTED: Tasks = _NotStarted()


class _Clock(Protocol):
    def current_time(self) -> float: ...


class _RunClock:
    """The clock of the run, looked up at each call (``trio.current_time``): before start()."""

    @staticmethod
    def current_time() -> float:
        return trio.current_time()


@attrs.define(eq=False)
class Link:
    """The connection of one ChargePoint, for sending, supervising and closing it."""

    id: str  # the identity (the watchdog's logs name it)
    logger: logging.Logger
    connection: Connection
    send_timeout: float
    ping_interval: float
    pong_timeout: float
    #: Set when the ChargePoint closes or the Link gives up: nothing more is sent or read.
    closed: bool = attrs.field(default=False, init=False)
    #: The ChargePoint's read loop runs in it; cancelled when the Link gives up on the peer.
    reader: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    frames_sent: int = attrs.field(default=0, init=False)
    errors_sent: int = attrs.field(default=0, init=False)  # CALLERROR frames
    #: Seconds from the last ping to its pong; None before one.
    round_trip_time: float | None = attrs.field(default=None, init=False)
    #: The close code and reason we sent (or were about to), once we closed.
    close_sent: tuple[int, str] | None = attrs.field(default=None, init=False)
    observers: Observers | None = attrs.field(default=None, init=False)
    # Set by start(). The clock, not its bound method: idle connections are many, and a bound
    # method is one more object for the garbage collector to visit.
    _tasks: Tasks = attrs.field(default=NOT_STARTED, init=False)
    _watchdog: Watchdog | None = attrs.field(default=None, init=False)
    _clock: _Clock = attrs.field(default=_RunClock(), init=False)
    # Frames being sent, when one last went out (or, with none in flight before, when one
    # started), when the next ping is due and whether one is out, the watchdog's next wake-up.
    _sending: int = attrs.field(default=0, init=False)
    _send_progress: float = attrs.field(default=0.0, init=False)
    _next_ping: float = attrs.field(default=math.inf, init=False)
    _pinging: bool = attrs.field(default=False, init=False)
    _alarm_at: float = attrs.field(default=math.inf, init=False)

    def start(self, tasks: Tasks, watchdog: Watchdog) -> None:
        """Supervise the connection, running pings and the giving up in ``tasks``."""
        self._tasks, self._watchdog = tasks, watchdog
        self._clock = clock = trio.lowlevel.current_clock()
        if self.ping_interval > 0 and hasattr(self.connection, "ping"):
            self._next_ping = clock.current_time() + self.ping_interval
        # A frame may be on its way already (a server's application calls early).
        self._arm(min(self._next_ping, self._send_deadline()))

    async def send(self, frame: Frame, told: bool = True) -> None:
        """Send ``frame``; ConnectionClosedError if the connection is closed. ``told``: False
        for an answer told with its exchange (``Observers.answers_told``)."""
        text = frame.to_json()
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(SENT_FRAME, escape(self.id), escape(text, FRAME_LIMIT))
        if not self._sending:
            self._send_progress = self._clock.current_time()
            due = self._send_progress + self.send_timeout
            if due < self._alarm_at:
                self._arm(due)
        self._sending += 1
        try:
            await self.connection.send_message(text)
        except ConnectionClosed:
            raise errors.ConnectionClosedError() from None
        finally:
            self._sending -= 1
            if self._sending:  # the others' deadline runs from this progress
                self._send_progress = self._clock.current_time()
            elif self._next_ping < self._alarm_at:
                # A ping put off while frames were going out is due now.
                self._arm(self._next_ping)
        self.frames_sent += 1
        if isinstance(frame, CallError):
            self.errors_sent += 1
        if told and self.observers is not None:
            self.observers.sent(text, frame)

    async def send_quietly(self, frame: Frame, told: bool = True) -> bool:
        """Send from a task that must outlive a closed connection; False if it was closed."""
        try:
            await self.send(frame, told)
        except errors.ConnectionClosedError:
            return False
        return True

    def send_soon(self, frame: Frame) -> None:
        """Send ``frame`` from a task of its own, unless the connection is closed."""
        if not self.closed:
            self._tasks.start_soon(self.send_quietly, frame)

    async def aclose(self, code: int, reason: str | None) -> None:
        """Close the connection; a peer that does not answer the close handshake within
        ``send_timeout`` (half-open, or hostile) is dropped without it."""
        if self.close_sent is None:
            self.close_sent = (code, reason or "")
        with trio.move_on_after(self.send_timeout):
            await self.connection.aclose(code, reason)

    # -- supervision -------------------------------------------------------------------------------

    def _arm(self, at: float) -> None:
        if at < self._alarm_at and self._watchdog is not None:  # start() arms what is due
            self._alarm_at = at
            self._watchdog.arm(at, self)

    def alarm(self, at: float, now: float) -> None:
        """The watchdog's wake-up (:class:`~trio_ocpp._runtime.watchdog.Watched`)."""
        if at != self._alarm_at or self.closed:
            return  # superseded by an earlier alarm, or the connection is over
        self._alarm_at = math.inf
        if now >= self._send_deadline():
            reason = f"no frame went out in {self.send_timeout:g} s"
            self._spawn(self._give_up, reason)
        elif self._pinging:
            pass  # the ping re-arms when its pong is in
        elif now >= self._next_ping and not self._sending:
            self._pinging = True
            self._spawn(self._keep_alive)
        else:
            self._arm(self._send_deadline() if self._sending else self._next_ping)

    def _spawn(self, async_fn: Any, *args: Any) -> None:
        try:
            self._tasks.start_soon(async_fn, *args)
        except RuntimeError:
            # The connection's nursery closed (its last task ended) and start() has not yet
            # marked the link closed: a shared watchdog woke it in between. It is ending.
            self.closed = True

    def _send_deadline(self) -> float:
        return self._send_progress + self.send_timeout if self._sending else math.inf

    async def _keep_alive(self) -> None:
        try:
            if not await self._ping():
                return
        finally:
            self._pinging = False
        self._next_ping = self._clock.current_time() + self.ping_interval
        self._arm(self._send_deadline() if self._sending else self._next_ping)

    async def _ping(self) -> bool:
        """Ping and wait for the pong; False when the connection is gone or was given up."""
        sent = trio.current_time()
        with trio.move_on_after(self.pong_timeout) as waiting:
            try:
                await self.connection.ping()  # type: ignore[attr-defined]
            except ConnectionClosed:
                return False
        if waiting.cancelled_caught:
            await self._give_up(f"no pong within {self.pong_timeout:g} s")
            return False
        self.round_trip_time = trio.current_time() - sent
        return True

    async def _give_up(self, reason: str) -> None:
        """Stop reading (the ChargePoint then closes) and close quickly: the peer stopped
        reading or answering."""
        self.logger.warning("%s: %s, closing the connection", escape(self.id), reason)
        self.closed = True
        if self.close_sent is None:
            self.close_sent = (close_codes.INTERNAL_ERROR, reason)
        self.reader.cancel()
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await self.connection.aclose(close_codes.INTERNAL_ERROR, reason)

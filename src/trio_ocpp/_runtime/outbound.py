"""Our CALLs to the peer, one at a time, each waiting for its response; and our 2.1 SENDs.

``call()`` sends one CALL at a time (CONFORMANCE 26): the others queue on a lock. Each waits for
its response in a slot keyed by its message id, which the ChargePoint's reader fills
(:meth:`OutboundCalls.resolve`); when the connection closes, every waiting call fails at once
(:meth:`OutboundCalls.fail`, CONFORMANCE 28), not after its timeout.
"""

from __future__ import annotations

import uuid
from time import perf_counter
from typing import Any

import attrs
import trio

from .._core import errors
from .._core.frames import Call, CallError, CallResult, Send
from .._core.payload import Payload
from .._core.route_table import Exchange, RouteTable, outgoing_payload
from .._core.schemas import REQUEST, RESPONSE, SEND
from .._core.validation import check
from .._core.versions import OCPPVersion
from .link import Link
from .observe import CLOSED, ERROR, INVALID_RESULT, OUTBOUND, RESULT, TIMEOUT, Observers

__all__ = ["OutboundCalls"]


@attrs.define(eq=False)
class _PendingCall:
    """Where the reader puts the response to one outbound CALL."""

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


@attrs.define(eq=False)
class OutboundCalls:
    """The CALLs and SENDs a ChargePoint makes, on its ``link``."""

    version: OCPPVersion
    table: RouteTable
    link: Link
    response_timeout: float
    typed: bool  # results get nested values as datatypes objects
    pending: dict[str, _PendingCall] = attrs.field(factory=dict, init=False)
    #: The one-CALL lock, made by the first call(): idle connections are many.
    _lock: trio.Lock | None = attrs.field(default=None, init=False)
    #: Woken whenever a call() finishes, once shutdown() waits on it.
    quieter: trio.lowlevel.ParkingLot | None = attrs.field(default=None, init=False)
    observers: Observers | None = attrs.field(default=None, init=False)

    @property
    def busy(self) -> bool:
        """A call() is waiting for its response or for its turn."""
        return bool(self.pending) or (self._lock is not None and self._lock.locked())

    async def call(
        self,
        payload: Payload,
        suppress: bool,
        unique_id: str | None,
        skip_schema_validation: bool,
        timeout: float | None = None,
    ) -> Any:
        """``ChargePoint.call``."""
        out = self.table.exchange(payload, REQUEST)
        wire = outgoing_payload(out, payload, skip_schema_validation)
        call = Call(unique_id or str(uuid.uuid4()), out.action, wire)
        lock = self._lock
        if lock is None:
            lock = self._lock = trio.Lock()
        if lock.locked():
            await lock.acquire()
        else:
            # Free means nobody queues (trio hands a released lock to its next waiter), so take
            # it without acquire()'s trip through the scheduler; sending checkpoints anyway.
            lock.acquire_nowait()
        observers = self.observers
        started = perf_counter() if observers is not None else 0.0
        try:
            response = await self._exchange(call, timeout)
        except (errors.CallTimeoutError, errors.ConnectionClosedError) as exc:
            if observers is not None:
                timed_out = isinstance(exc, errors.CallTimeoutError)
                outcome = TIMEOUT if timed_out else CLOSED
                observers.exchanged(OUTBOUND, call, None, outcome, started)
            raise
        finally:
            lock.release()
        if isinstance(response, CallError):
            if observers is not None:
                observers.exchanged(OUTBOUND, call, response, ERROR, started)
            if suppress:
                return None
            raise response.to_exception()
        try:
            result = self._result_object(out, response, skip_schema_validation)
        except errors.OCPPError:
            if observers is not None:
                observers.exchanged(OUTBOUND, call, response, INVALID_RESULT, started)
            raise
        if observers is not None:
            observers.exchanged(OUTBOUND, call, response, RESULT, started)
        return result

    async def _exchange(self, call: Call, timeout: float | None) -> CallResult | CallError:
        """Send ``call`` and wait for its response (the caller holds the one-CALL lock)."""
        if self.link.closed:
            raise errors.ConnectionClosedError()
        if call.unique_id in self.pending:
            raise ValueError(f"a call with id {call.unique_id!r} is already pending")
        pending = self.pending[call.unique_id] = _PendingCall(call.action)
        try:
            await self.link.send(call)
            if timeout is None:
                timeout = self.response_timeout
            with trio.move_on_after(timeout):
                await pending.done.wait()
        finally:
            del self.pending[call.unique_id]
            if self.quieter:  # shutdown() waits
                self.quieter.unpark_all()
        if pending.error is not None:
            raise pending.error
        if pending.response is None:
            raise errors.CallTimeoutError(
                action=call.action, unique_id=call.unique_id, timeout=timeout
            )
        return pending.response

    def _result_object(self, out: Exchange, result: CallResult, skip_validation: bool) -> Any:
        assert out.response_class is not None  # a CALL's
        if out.response is not None and not skip_validation:
            try:
                check(out.response, out.action, RESPONSE, result.payload)
            except errors.OCPPError as exc:
                if self.version == "2.1":
                    # 2.1 answers a bad CALLRESULT with a CALLRESULTERROR (CONFORMANCE 12).
                    self.link.send_soon(result.create_call_result_error(exc, self.version))
                raise
        return out.response_class.from_wire(result.payload, typed=self.typed)

    async def send(self, payload: Payload, skip_schema_validation: bool) -> None:
        """``ChargePoint.send``."""
        out = self.table.exchange(payload, SEND)
        wire = outgoing_payload(out, payload, skip_schema_validation)
        await self.link.send(Send(str(uuid.uuid4()), out.action, wire))
        await trio.lowlevel.checkpoint()  # our connection's sends do not yield by themselves

    def resolve(self, response: CallResult | CallError) -> bool:
        """Hand a response to the call waiting for it; False if none is (an unknown or late
        id)."""
        pending = self.pending.get(response.unique_id)
        if pending is None or pending.done.is_set():
            return False
        pending.resolve(response)
        return True

    def named(self, answer: CallResult | CallError) -> CallResult | CallError:
        """``answer``, received, with the action of the call waiting for it (observers count
        answers by action); as it is if none waits."""
        pending = self.pending.get(answer.unique_id)
        return answer if pending is None else attrs.evolve(answer, action=pending.action)

    def fail(self) -> None:
        """The connection closed: every waiting call fails now."""
        for pending in self.pending.values():
            pending.resolve(error=errors.ConnectionClosedError())

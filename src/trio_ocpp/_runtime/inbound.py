"""The peer's CALLs and SENDs to a ChargePoint: refusing, routing, validating, answering.

Each CALL is handled in a task of its own, so that a handler may ``await self.call(...)`` back
to the peer while the reader goes on (CALLs cross each other, CONFORMANCE 26). A CALL whose
handling cannot await (a synchronous handler, the default ``pre_dispatch``, no ``@after``
hooks) is answered by the reader itself, once its action was seen: a task would add nothing
but its cost. SENDs are handled in tasks, at most ``max_concurrent_handlers`` at once.

The ChargePoint whose methods handle them (the ``host``) is passed with each frame rather than
kept: a part that held it would make a cycle, and a connection that ended would then wait for
the garbage collector, with its buffers, instead of going at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter
from typing import Any, Protocol

import attrs
import trio

from .._core import errors
from .._core.casing import object_to_python, object_to_wire
from .._core.frames import Call, CallError, CallResult, Send
from .._core.logsafe import escape
from .._core.payload import Payload, field_values
from .._core.route_table import Route, RouteTable
from .._core.schemas import REQUEST, RESPONSE, SEND
from .._core.validation import check
from .._core.versions import OCPPVersion
from .conduct import Conduct
from .link import NOT_STARTED, Link, Tasks
from .observe import CLOSED, ERROR, INBOUND, RESULT, Observers

__all__ = ["Host", "InboundCalls"]


class Host(Protocol):
    """The ChargePoint, as inbound handling uses it: its methods are the handlers."""

    #: A server's: told when the first CALL is answered (the peer proved to be a charge point).
    _on_first_answer: Callable[[], None] | None

    async def pre_dispatch(self, message: Call | Send) -> None: ...

    def fallback(self, action: str, payload: dict[str, Any], unique_id: str) -> Any: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...


@attrs.define(eq=False)
class InboundCalls:
    """The CALLs and SENDs a ChargePoint receives, answered on its ``link``."""

    version: OCPPVersion
    table: RouteTable
    link: Link
    conduct: Conduct
    id: str
    logger: logging.Logger
    typed: bool  # handlers get nested values as datatypes objects
    max_concurrent_handlers: int
    handler_timeout: float
    #: The ids of the CALLs being handled. A dict, not a set: an empty dict is not tracked by
    #: the garbage collector, and idle connections are many.
    running: dict[str, None] = attrs.field(factory=dict, init=False)
    draining: bool = attrs.field(default=False, init=False)  # shutdown(): refuse new CALLs
    #: Woken whenever a CALL was handled, once shutdown() waits on it.
    quieter: trio.lowlevel.ParkingLot | None = attrs.field(default=None, init=False)
    tasks: Tasks = attrs.field(default=NOT_STARTED, init=False)  # start() sets its nursery
    observers: Observers | None = attrs.field(default=None, init=False)
    #: SENDs being handled, made by the first.
    _send_slots: trio.Semaphore | None = attrs.field(default=None, init=False)

    async def receive_call(self, host: Host, call: Call) -> None:
        """Answer ``call`` with ``host``'s handler: now, or from a task of its own."""
        refusal = None
        running = self.running
        # The observers that saw the CALL arrive (add_observer() makes new ones) see its end.
        observers = self.observers
        if call.unique_id in running:
            # A second CALL with the id of one still being handled (CONFORMANCE 21).
            refusal = f"A CALL with id {call.unique_id!r} is already being handled"
        elif len(running) >= self.max_concurrent_handlers:
            refusal = f"More than {self.max_concurrent_handlers} CALLs at once"
        elif self.draining:
            refusal = "The connection is shutting down"
        if refusal is not None:
            # CONFORMANCE 21: ProtocolError in 1.6, RpcFrameworkError in 2.x.
            code = errors.ProtocolError if self.version == "1.6" else errors.RpcFrameworkError
            error = call.create_call_error(code(refusal), self.version)
            started = perf_counter()
            told = observers is None or observers.answers_told
            sent = await self.link.send_quietly(error, told)
            if observers is not None:
                outcome = ERROR if sent else CLOSED
                observers.answered(INBOUND, call, error if sent else None, outcome, started)
            return
        running[call.unique_id] = None
        route = self.table.calls.get(call.action)
        if route is not None and route.inline:
            # Nothing to wait for but the answer going out: the reader answers it.
            await self._handle_call(host, call, route, observers)
        else:
            self.tasks.start_soon(self._handle_call, host, call, route, observers)

    async def receive_send(self, host: Host, send: Send) -> None:
        """Run the handler of ``send`` in a task of its own, at most
        ``max_concurrent_handlers`` at once: more wait here (the peer's frames wait in turn),
        none is dropped."""
        slots = self._send_slots
        if slots is None:
            slots = self._send_slots = trio.Semaphore(self.max_concurrent_handlers)
        await slots.acquire()
        self.tasks.start_soon(self._handle_send, host, send, slots)

    # -- CALLs -----------------------------------------------------------------------------------

    async def _handle_call(
        self, host: Host, call: Call, route: Route | None, observers: Observers | None
    ) -> None:
        """Answer ``call``; ``route`` is its action's, if it was looked up already."""
        sent = False
        started = perf_counter() if observers is not None else 0.0
        reply: CallResult | CallError | None = None
        try:
            try:
                if route is not None and route.synchronous:
                    # Nothing on this path awaits, so no timeout could cancel it: neither a
                    # cancel scope nor a coroutine of its own.
                    reply, handler_args = self._answer_now(host, call, route)
                else:
                    reply, handler_args = await self._answer(host, call)
            finally:
                del self.running[call.unique_id]
                if self.quieter:  # shutdown() waits
                    self.quieter.unpark_all()
            # Not send_quietly(): one coroutine less on the hot path.
            await self.link.send(reply, observers is None or observers.answers_told)
            sent = True
        except errors.ConnectionClosedError:
            pass
        finally:
            if not sent:
                # Also when cancelled with the connection: the peer's CALL goes unanswered.
                self.conduct.warn(
                    "%s: the answer to %s (%s) is lost: connection closed",
                    escape(self.id),
                    escape(call.action),
                    escape(call.unique_id),
                )
            if observers is not None:
                # Our answer is a CALLRESULT or a CALLERROR, never a CALLRESULTERROR.
                if sent:
                    outcome = RESULT if type(reply) is CallResult else ERROR
                    observers.answered(INBOUND, call, reply, outcome, started)
                else:
                    observers.answered(INBOUND, call, None, CLOSED, started)
        if sent and isinstance(reply, CallResult):
            if host._on_first_answer is not None:
                host._on_first_answer()
                host._on_first_answer = None
            if handler_args is not None:
                await self._run_after_hooks(host, call.action, handler_args, reply)

    async def _answer(
        self, host: Host, call: Call
    ) -> tuple[CallResult | CallError, dict[str, Any] | None]:
        """``pre_dispatch`` and the handler of ``call``, within ``handler_timeout``: its
        CALLRESULT, or the CALLERROR the rules name."""
        try:
            with trio.move_on_after(self.handler_timeout):
                await host.pre_dispatch(call)
                route = self.table.route(call.action, REQUEST)
                return self._reply(call, route, *await self._invoke(host, route, call))
        except Exception as exc:
            return self._failed(call, exc), None
        self.logger.error(
            "%s: handler of %s (%s) did not finish within %g s, cancelled",
            escape(self.id),
            call.action,
            escape(call.unique_id),
            self.handler_timeout,
        )
        error = errors.InternalError("The request was not handled in time")
        return call.create_call_error(error, self.version), None

    def _answer_now(
        self, host: Host, call: Call, route: Route
    ) -> tuple[CallResult | CallError, dict[str, Any] | None]:
        """:meth:`_answer` for a route whose handling cannot await (``route.synchronous``)."""
        try:
            return self._reply(call, route, *self._call_handler(host, route, call))
        except Exception as exc:
            return self._failed(call, exc), None

    def _failed(self, call: Call, exc: Exception) -> CallError:
        """The CALLERROR for a handler's exception (logged if it was no OCPPError)."""
        if not isinstance(exc, errors.OCPPError):
            self.logger.exception("%s: handler of %s failed", escape(self.id), call.action)
        return call.create_call_error(exc, self.version)

    def _reply(
        self, call: Call, route: Route, response: Any, kwargs: dict[str, Any]
    ) -> tuple[CallResult | CallError, dict[str, Any] | None]:
        """The CALLRESULT of the handler's ``response``, and for @after hooks its arguments
        (None without hooks); an InternalError if the response is invalid."""
        try:
            payload = self._response_to_wire(call.action, route, response)
            if route.response is not None:
                check(route.response, call.action, RESPONSE, payload)
        except Exception as exc:
            # A bug in the handler: never send an invalid payload (CONFORMANCE 23).
            self.logger.error(
                "%s: handler of %s returned an invalid response: %s",
                escape(self.id),
                call.action,
                exc,
            )
            return call.create_call_error(errors.InternalError(), self.version), None
        # The handler's arguments, and its response, for @after hooks: only if there are some.
        hooked = {"response": response, **kwargs} if route.after else None
        return call.create_call_result(payload), hooked

    async def _invoke(
        self, host: Host, route: Route, frame: Call | Send
    ) -> tuple[Any, dict[str, Any]]:
        result, kwargs = self._call_handler(host, route, frame)
        if route.handler.is_async:
            result = await result
        return result, kwargs

    def _call_handler(
        self, host: Host, route: Route, frame: Call | Send
    ) -> tuple[Any, dict[str, Any]]:
        """Validate and convert the payload, and call the handler: what it returned (to be
        awaited if it is async) and the request's fields, of which @after hooks take theirs."""
        payload = frame.payload
        if route.request is not None:
            check(route.request, frame.action, route.kind, payload)
        if route.fallback:
            fields = object_to_python(payload, route.request_casing)
            return host.fallback(frame.action, fields, frame.unique_id), fields
        if self.typed:
            obj = route.request_class.from_wire(payload, typed=True)
            fields = field_values(obj)
        else:
            fields = object_to_python(payload, route.request_casing)
        handler = route.handler
        kwargs = handler.arguments(fields, frame.unique_id)
        return getattr(host, handler.name)(**kwargs), fields

    def _response_to_wire(self, action: str, route: Route, response: Any) -> dict[str, Any]:
        if type(response) is route.response_class:  # the usual answer: nothing to check
            return response.to_wire()
        if isinstance(response, Payload):
            if response.__ocpp_action__ != action or response.__ocpp_kind__ is not RESPONSE:
                raise TypeError(f"expected the response to {action}, got {response!r}")
            return response.to_wire()  # its own version's schema names its fields
        if not isinstance(response, dict):
            raise TypeError(
                f"a handler must return a call_result object or a dict, not {response!r}"
            )
        return object_to_wire(response, route.response_casing)

    async def _run_after_hooks(
        self, host: Host, action: str, handler_args: dict[str, Any], reply: CallResult
    ) -> None:
        response = handler_args.pop("response")
        for hook in self.table.handlers.after.get(action, ()):
            args = dict(handler_args)
            if hook.inject_response:
                args["response"] = response
            try:
                # after hooks get the @on handler's arguments; filter them for this hook.
                kwargs = hook.arguments(args, reply.unique_id)
                result = getattr(host, hook.name)(**kwargs)
                if hook.is_async:
                    await result
            except Exception:
                self.logger.exception(
                    "%s: @after hook %s of %s failed", escape(self.id), hook.name, action
                )

    # -- SENDs -----------------------------------------------------------------------------------

    async def _handle_send(self, host: Host, send: Send, slots: trio.Semaphore) -> None:
        """A 2.1 SEND: run its handler; it is never answered, even when invalid."""
        try:
            with trio.move_on_after(self.handler_timeout) as timer:
                await host.pre_dispatch(send)
                await self._invoke(host, self.table.route(send.action, SEND), send)
            if timer.cancelled_caught:
                self.logger.error(
                    "%s: handler of SEND %s (%s) did not finish within %g s, cancelled",
                    escape(self.id),
                    send.action,
                    escape(send.unique_id),
                    self.handler_timeout,
                )
            self.conduct.behaved()
        except Exception as exc:
            self.conduct.warn(
                "%s: SEND %s (%s) not handled: %s",
                escape(self.id),
                escape(send.action),
                escape(send.unique_id),
                escape(exc),
            )
            await self.conduct.misbehaved(host.aclose)
        finally:
            slots.release()

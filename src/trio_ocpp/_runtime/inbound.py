"""Inbound CALLs and SENDs of a ChargePoint: refusing, routing, validating, answering.

A mixin of :class:`~trio_ocpp.charge_point.ChargePoint`, which holds the connection's state
(declared here for the type checker) and reads the frames; this is what it does with a CALL or a
SEND once read (the module docstring of ``_charge_point`` says which run in the reader).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import trio

from .._core import errors
from .._core.casing import message_plan, object_to_python, object_to_wire
from .._core.frames import Call, CallError, CallResult, Frame, Send
from .._core.logsafe import escape
from .._core.payload import Payload, payload_class
from .._core.route_table import Route, RouteTable
from .._core.routing import Routes
from .._core.schemas import MessageKind, actions
from .._core.validation import FormatPolicy, check, compile_validator
from .._core.versions import OCPPVersion

__all__ = ["InboundCalls"]


class InboundCalls:
    # The ChargePoint's state and methods this uses (it sets and defines them).
    id: str
    logger: logging.Logger
    on_answered: Callable[..., None] | None
    _on_first_answer: Callable[[], None] | None
    _ocpp_version: ClassVar[OCPPVersion]
    _routes: ClassVar[Routes]
    _plain_pre_dispatch: ClassVar[bool]
    _table: RouteTable
    _receive_formats: FormatPolicy
    _typed: bool
    _inbound: set[str]
    _max_concurrent_handlers: int
    _handler_timeout: float
    _draining: bool
    _quieter: trio.lowlevel.ParkingLot | None
    _send_slots: trio.Semaphore | None
    _nursery: trio.Nursery | None
    _now: Callable[[], float]

    if TYPE_CHECKING:

        async def pre_dispatch(self, message: Call | Send) -> None: ...

        async def _send_quietly(self, frame: Frame) -> bool: ...

        async def _send(self, frame: Frame) -> None: ...

        def _behaved(self) -> None: ...

        def _warn(self, message: str, *args: Any) -> None: ...

        async def _misbehaved(self) -> None: ...

    async def _start_call(self, call: Call) -> None:
        refusal = None
        if call.unique_id in self._inbound:
            # A second CALL with the id of one still being handled (CONFORMANCE 21).
            refusal = f"A CALL with id {call.unique_id!r} is already being handled"
        elif len(self._inbound) >= self._max_concurrent_handlers:
            refusal = f"More than {self._max_concurrent_handlers} CALLs at once"
        elif self._draining:
            refusal = "The connection is shutting down"
        if refusal is not None:
            # CONFORMANCE 21: ProtocolError in 1.6, RpcFrameworkError in 2.x.
            code = errors.ProtocolError if self._ocpp_version == "1.6" else errors.RpcFrameworkError
            await self._send_quietly(call.create_call_error(code(refusal), self._ocpp_version))
            return
        self._inbound.add(call.unique_id)
        route = self._table.calls.get(call.action)
        # Nothing to wait for but the answer going out: the reader answers it (module docstring).
        inline = route is not None and route.inline
        if inline or self._nursery is None:  # not started: tests calling route_message()
            await self._handle_call(call, route)
        else:
            self._nursery.start_soon(self._handle_call, call, route)

    # -- inbound CALLs ---------------------------------------------------------------------------

    async def _handle_call(self, call: Call, route: Route | None) -> None:
        """Answer ``call``; ``route`` is its action's, if it was looked up already."""
        sent = False
        try:
            try:
                reply, handler_args = await self._answer(call, route)
            finally:
                self._inbound.discard(call.unique_id)
                if self._quieter:  # shutdown() waits
                    self._quieter.unpark_all()
            await self._send(reply)  # not _send_quietly(): one coroutine less on the hot path
            sent = True
        except errors.ConnectionClosedError:
            pass
        finally:
            if not sent:
                # Also when cancelled with the connection: the peer's CALL goes unanswered.
                self._warn(
                    "%s: the answer to %s (%s) is lost: connection closed",
                    escape(self.id),
                    escape(call.action),
                    escape(call.unique_id),
                )
        if sent and isinstance(reply, CallResult):
            if self._on_first_answer is not None:
                self._on_first_answer()
                self._on_first_answer = None
            if self.on_answered is not None:
                self.on_answered(self, call, reply)
            if handler_args is not None:
                await self._run_after_hooks(call.action, handler_args, reply)

    def _route(self, action: str, kind: MessageKind) -> Route:
        routes = self._table.calls if kind is MessageKind.REQUEST else self._table.sends
        route = routes.get(action)
        if route is None:
            # Only actions with a handler get here, so what a peer sends cannot grow the table.
            route = routes[action] = self._new_route(action, kind)
        return route

    def _new_route(self, action: str, kind: MessageKind) -> Route:
        handler = self._routes.on.get(action)
        if handler is None:
            if action in actions(self._ocpp_version, kind):
                raise errors.NotSupportedError(f"{action} is not supported")
            raise errors.NotImplementedError(f"{action} is not a known action")
        version, checked = self._ocpp_version, not handler.skip_schema_validation
        engine = self._table.engine
        response = MessageKind.RESPONSE if kind is MessageKind.REQUEST else None  # SENDs have none
        synchronous = self._plain_pre_dispatch and not handler.is_async
        after = self._routes.after.get(action, ())
        return Route(
            kind=kind,
            handler=handler,
            after=after,
            synchronous=synchronous,
            inline=synchronous and not after,
            request=(
                compile_validator(version, action, kind, self._receive_formats, engine)
                if checked
                else None
            ),
            response=(
                compile_validator(version, action, response, FormatPolicy.STRICT, engine)
                if checked and response
                else None
            ),
            request_casing=message_plan(version, action, kind),
            response_casing=message_plan(version, action, response) if response else None,
            typed=payload_class(version, action, kind) if self._typed else None,
            response_class=payload_class(version, action, response) if response else None,
        )

    async def _invoke(self, route: Route, frame: Call | Send) -> tuple[Any, dict[str, Any]]:
        result, kwargs = self._call_handler(route, frame)
        if route.handler.is_async:
            result = await result
        return result, kwargs

    def _call_handler(self, route: Route, frame: Call | Send) -> tuple[Any, dict[str, Any]]:
        """Validate and convert the payload, and call the handler: what it returned (to be
        awaited if it is async) and the request's fields, of which @after hooks take theirs."""
        payload = frame.payload
        if route.request is not None:
            check(route.request, frame.action, route.kind, payload)
        if route.typed is not None:
            obj = route.typed.from_wire(payload, typed=True)
            fields = {f.name: getattr(obj, f.name) for f in attrs.fields(type(obj))}
        else:
            fields = object_to_python(payload, route.request_casing)
        handler = route.handler
        kwargs = handler.arguments(fields, frame.unique_id)
        return getattr(self, handler.name)(**kwargs), fields

    async def _dispatch(
        self, call: Call, route: Route | None
    ) -> tuple[Route, Any, dict[str, Any]] | None:
        """``pre_dispatch`` and the handler: the route, response and arguments of ``call``;
        None if they took longer than ``handler_timeout``."""
        if route is not None and route.synchronous:
            # Nothing on this path awaits, so no timeout could cancel it: a cancel scope would
            # only cost time.
            return route, *self._call_handler(route, call)
        with trio.move_on_after(self._handler_timeout):
            await self.pre_dispatch(call)
            route = self._route(call.action, MessageKind.REQUEST)
            return route, *await self._invoke(route, call)
        return None  # cancelled at the deadline

    async def _answer(
        self, call: Call, route: Route | None
    ) -> tuple[CallResult | CallError, dict[str, Any] | None]:
        """Run the handler of ``call``: its CALLRESULT, or the CALLERROR the rules name."""
        version = self._ocpp_version
        try:
            handled = await self._dispatch(call, route)
        except errors.OCPPError as exc:
            return call.create_call_error(exc, version), None
        except Exception as exc:
            self.logger.exception("%s: handler of %s failed", escape(self.id), call.action)
            return call.create_call_error(exc, version), None
        if handled is None:
            self.logger.error(
                "%s: handler of %s (%s) did not finish within %g s, cancelled",
                escape(self.id),
                call.action,
                escape(call.unique_id),
                self._handler_timeout,
            )
            error = errors.InternalError("The request was not handled in time")
            return call.create_call_error(error, version), None
        route, response, kwargs = handled
        try:
            payload = self._response_to_wire(call.action, route, response)
            if route.response is not None:
                check(route.response, call.action, MessageKind.RESPONSE, payload)
        except Exception as exc:
            # A bug in the handler: never send an invalid payload (CONFORMANCE 23).
            self.logger.error(
                "%s: handler of %s returned an invalid response: %s",
                escape(self.id),
                call.action,
                exc,
            )
            return call.create_call_error(errors.InternalError(), version), None
        # The handler's arguments, and its response, for @after hooks: only if there are some.
        hooked = {"response": response, **kwargs} if route.after else None
        return call.create_call_result(payload), hooked

    def _response_to_wire(self, action: str, route: Route, response: Any) -> dict[str, Any]:
        if type(response) is route.response_class:  # the usual answer: nothing to check
            response = response.__ocpp_wire__()
        elif isinstance(response, Payload):
            if response.__ocpp_action__ != action or response.__ocpp_kind__ is not (
                MessageKind.RESPONSE
            ):
                raise TypeError(f"expected the response to {action}, got {response!r}")
            if response.__ocpp_version__ != self._ocpp_version:
                return response.to_wire()  # another version's schema names its fields
            response = response.__ocpp_wire__()  # what to_wire() renames, with our plan
        elif not isinstance(response, dict):
            raise TypeError(
                f"a handler must return a call_result object or a dict, not {response!r}"
            )
        return object_to_wire(response, route.response_casing)

    async def _run_after_hooks(
        self, action: str, handler_args: dict[str, Any], reply: CallResult
    ) -> None:
        response = handler_args.pop("response")
        for hook in self._routes.after.get(action, ()):
            args = dict(handler_args)
            if hook.inject_response:
                args["response"] = response
            try:
                # after hooks get the @on handler's arguments; filter them for this hook.
                kwargs = hook.arguments(args, reply.unique_id)
                result = getattr(self, hook.name)(**kwargs)
                if hook.is_async:
                    await result
            except Exception:
                self.logger.exception(
                    "%s: @after hook %s of %s failed", escape(self.id), hook.name, action
                )

    async def _handle_send(self, send: Send) -> None:
        """A 2.1 SEND: run its handler; it is never answered, even when invalid."""
        try:
            with trio.move_on_after(self._handler_timeout) as timer:
                await self.pre_dispatch(send)
                await self._invoke(self._route(send.action, MessageKind.SEND), send)
            if timer.cancelled_caught:
                self.logger.error(
                    "%s: handler of SEND %s (%s) did not finish within %g s, cancelled",
                    escape(self.id),
                    send.action,
                    escape(send.unique_id),
                    self._handler_timeout,
                )
            self._behaved()
        except Exception as exc:
            self._warn(
                "%s: SEND %s (%s) not handled: %s",
                escape(self.id),
                escape(send.action),
                escape(send.unique_id),
                escape(exc),
            )
            await self._misbehaved()
        finally:
            if self._send_slots is not None:
                self._send_slots.release()

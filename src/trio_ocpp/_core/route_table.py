"""What exchanging an action's messages takes, compiled once, here, and then kept.

An action's request and response need their validators, renaming plans and payload classes.
They are compiled in one place for everything that sends or receives a message:
:func:`outbound_exchange` for what we send (a ChargePoint's ``call()`` and ``send()``, a
cluster's calls), :func:`inbound_route` for what we receive and answer. What we send is checked
strictly (``FormatPolicy.STRICT``), what we receive by the connection's policy.

A ChargePoint class keeps a :class:`RouteTable` per :data:`Setting`, shared by its connections:
the :class:`Route` of each action it received and the :class:`Exchange` of each payload class it
sent, so that no message compiles them again.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from . import errors
from .casing import Plan, message_plan
from .payload import Payload, payload_class
from .routing import Handler, Handlers
from .schemas import REQUEST, MessageKind, actions
from .validation import FormatPolicy, SchemaValidator, check, compile_validator, validation_engine

__all__ = [
    "Exchange",
    "Route",
    "RouteTable",
    "Setting",
    "inbound_route",
    "no_handler",
    "outbound_exchange",
    "outgoing_payload",
]


@attrs.frozen
class Exchange:
    """What one action's request and its response (a SEND has none) take."""

    action: str
    kind: MessageKind  # of the request: REQUEST (a CALL) or SEND
    #: Validators of the request and of the response; None where nothing is checked: a handler
    #: that skips validation, the response of a SEND.
    request: SchemaValidator | None
    response: SchemaValidator | None
    request_casing: Plan | None
    response_casing: Plan | None
    request_class: type[Payload]
    #: What a CALL's handler usually returns, and what ``call()`` gives back; None for a SEND.
    response_class: type[Payload] | None


@attrs.frozen
class Route(Exchange):
    """An action we receive: its exchange, and the handler that answers it."""

    handler: Handler
    after: tuple[Handler, ...]
    #: Nothing before the answer awaits: a synchronous handler and the default pre_dispatch.
    synchronous: bool
    #: And nothing after it: no @after hooks. The reader answers such a CALL itself.
    inline: bool
    #: The handler is the class's fallback, called with the action, payload and unique id.
    fallback: bool = False


E = TypeVar("E", bound=Exchange)


def _compile(
    cls: type[E],
    version: str,
    action: str,
    kind: MessageKind,
    *,
    sending: bool,
    receive_formats: FormatPolicy,
    engine: str,
    checked: bool = True,
    **more: Any,
) -> E:
    """The one place an exchange is compiled; ``sending``: we send the request."""
    response = MessageKind.RESPONSE if kind is MessageKind.REQUEST else None  # SENDs have none
    strict, received = FormatPolicy.STRICT, receive_formats
    request_formats, response_formats = (strict, received) if sending else (received, strict)
    return cls(
        action=action,
        kind=kind,
        request=compile_validator(version, action, kind, request_formats, engine)
        if checked
        else None,
        response=(
            compile_validator(version, action, response, response_formats, engine)
            if checked and response
            else None
        ),
        request_casing=message_plan(version, action, kind),
        response_casing=message_plan(version, action, response) if response else None,
        request_class=payload_class(version, action, kind),
        response_class=payload_class(version, action, response) if response else None,
        **more,
    )


def outbound_exchange(
    payload: object,
    kind: MessageKind,
    version: str | None,
    receive_formats: FormatPolicy,
    engine: str,
) -> Exchange:
    """The exchange of sending ``payload`` as ``kind`` (REQUEST or SEND) on a connection of
    ``version`` (None: the payload's own). TypeError if it is no payload object of that kind
    and version."""
    if not isinstance(payload, Payload) or payload.__ocpp_kind__ is not kind:
        raise TypeError(f"expected a {kind.value} payload object, got {payload!r}")
    if version is not None and payload.__ocpp_version__ != version:
        raise TypeError(
            f"{type(payload).__qualname__} is an OCPP {payload.__ocpp_version__} message; "
            f"this connection speaks {version}"
        )
    return _compile(
        Exchange,
        payload.__ocpp_version__,
        payload.__ocpp_action__,
        kind,
        sending=True,
        receive_formats=receive_formats,
        engine=engine,
    )


def outgoing_payload(
    exchange: Exchange, payload: Payload, skip_schema_validation: bool = False
) -> dict[str, Any]:
    """The wire form of ``payload`` (``payload.to_wire()``), checked against its schema."""
    wire = payload.to_wire()  # the exchange's plan is the payload's own
    if exchange.request is not None and not skip_schema_validation:
        check(exchange.request, exchange.action, exchange.kind, wire)
    return wire


def checked_request(payload: Payload, skip_schema_validation: bool = False) -> dict[str, Any]:
    """The wire form of a CALL's payload, checked as ``ChargePoint.call`` checks it, against
    the payload's own version: for who sends it elsewhere (the cluster, the operator API)."""
    engine = validation_engine()
    exchange = outbound_exchange(payload, MessageKind.REQUEST, None, FormatPolicy.LENIENT, engine)
    return outgoing_payload(exchange, payload, skip_schema_validation)


def inbound_route(
    handlers: Handlers,
    version: str,
    action: str,
    kind: MessageKind,
    *,
    plain_pre_dispatch: bool,
    receive_formats: FormatPolicy,
    engine: str,
) -> Route:
    """The route of a CALL (``kind`` REQUEST) or SEND of ``action`` to a ChargePoint class with
    ``handlers``: its handler's, else for a CALL the class's fallback;
    :func:`no_handler`'s error without either."""
    handler = handlers.on.get(action)
    fallback = handler is None
    if fallback:
        handler = handlers.fallback if kind is MessageKind.REQUEST else None
        if handler is None:
            raise no_handler(version, action, kind)
    assert handler is not None
    synchronous = plain_pre_dispatch and not handler.is_async
    after = () if fallback else handlers.after.get(action, ())
    if fallback and action not in actions(version, kind):
        # No schema, no names to convert: the fallback gets the payload as received.
        return Route(
            action=action,
            kind=kind,
            request=None,
            response=None,
            request_casing=None,
            response_casing=None,
            request_class=Payload,
            response_class=None,
            handler=handler,
            after=(),
            synchronous=synchronous,
            inline=synchronous,
            fallback=True,
        )
    return _compile(
        Route,
        version,
        action,
        kind,
        sending=False,
        receive_formats=receive_formats,
        engine=engine,
        checked=not handler.skip_schema_validation,
        handler=handler,
        after=after,
        synchronous=synchronous,
        inline=synchronous and not after,
        fallback=fallback,
    )


def no_handler(version: str, action: str, kind: MessageKind) -> errors.OCPPError:
    """The error answering a CALL that no handler takes (CONFORMANCE 17): NotSupported for an
    action the version knows, NotImplemented for any other."""
    if action in actions(version, kind):
        return errors.NotSupportedError(f"{action} is not supported")
    return errors.NotImplementedError(f"{action} is not a known action")


#: A connection setting: (receive formats, validation engine).
Setting = tuple[FormatPolicy, str]


@attrs.frozen
class RouteTable:
    """A ChargePoint class's routes for one connection setting, shared by its connections."""

    version: str
    handlers: Handlers
    plain_pre_dispatch: bool  # the class's pre_dispatch is the default no-op
    receive_formats: FormatPolicy
    engine: str  # the validation engine
    calls: dict[str, Route] = attrs.Factory(dict)  # by action
    sends: dict[str, Route] = attrs.Factory(dict)  # by action
    outbound: dict[type[Payload], Exchange] = attrs.Factory(dict)

    def route(self, action: str, kind: MessageKind) -> Route:
        """The route of a CALL or SEND of ``action``, compiled on its first message."""
        routes = self.calls if kind is REQUEST else self.sends
        route = routes.get(action)
        if route is None:
            route = inbound_route(
                self.handlers,
                self.version,
                action,
                kind,
                plain_pre_dispatch=self.plain_pre_dispatch,
                receive_formats=self.receive_formats,
                engine=self.engine,
            )
            # Only actions of the version or with a handler are kept (a fallback's route of
            # any other has no payload class), so what a peer sends cannot grow the table.
            if route.request_class is not Payload:
                routes[action] = route
        return route

    def exchange(self, payload: Payload, kind: MessageKind) -> Exchange:
        """The exchange of sending ``payload`` as ``kind``, compiled on first use of its class."""
        exchange = self.outbound.get(type(payload))
        if exchange is None or exchange.kind is not kind:
            exchange = outbound_exchange(
                payload, kind, self.version, self.receive_formats, self.engine
            )
            self.outbound[type(payload)] = exchange
        return exchange

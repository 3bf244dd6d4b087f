"""What handling an action takes, looked up once per class and connection setting, then kept.

A ChargePoint class keeps a :class:`RouteTable` per :data:`Setting`: the :class:`Route` of each
inbound action (handler, validators, renaming plans, classes) and the :class:`Outbound` of each
payload class it sends, so that no message looks them up again.
"""

from __future__ import annotations

import attrs

from .casing import Plan
from .payload import Payload
from .routing import Handler
from .schemas import MessageKind
from .validation import FormatPolicy, SchemaValidator

__all__ = ["Outbound", "Route", "RouteTable", "Setting"]


@attrs.frozen
class Route:
    """What handling one action takes, looked up on its first message and then kept."""

    kind: MessageKind  # of the request: REQUEST (a CALL) or SEND
    handler: Handler
    after: tuple[Handler, ...]
    #: Nothing before the answer awaits: a synchronous handler and the default pre_dispatch.
    synchronous: bool
    #: And nothing after it: no @after hooks. The reader answers such a CALL itself.
    inline: bool
    #: Validators of the request (the receive policy) and the response (STRICT: what we send);
    #: None when the handler skips validation, and for the response of a SEND (it has none).
    request: SchemaValidator | None
    response: SchemaValidator | None
    request_casing: Plan | None
    response_casing: Plan | None
    #: The request's payload class for ``typed`` connections; None otherwise.
    typed: type[Payload] | None
    #: The response's payload class (None for a SEND): what handlers usually return.
    response_class: type[Payload] | None


@attrs.frozen
class Outbound:
    """What sending one class of payload object takes, looked up on its first use and kept."""

    action: str
    kind: MessageKind  # REQUEST (a CALL) or SEND
    casing: Plan | None
    request: SchemaValidator  # STRICT
    #: The response's validator (the receive policy) and class; None for a SEND.
    response: SchemaValidator | None
    response_class: type[Payload] | None


@attrs.frozen
class RouteTable:
    """A ChargePoint class's routes for one connection setting, shared by its connections."""

    engine: str  # the validation engine
    calls: dict[str, Route] = attrs.Factory(dict)  # by action
    sends: dict[str, Route] = attrs.Factory(dict)  # by action
    outbound: dict[type[Payload], Outbound] = attrs.Factory(dict)


#: A connection setting: (receive formats, typed, validation engine).
Setting = tuple[FormatPolicy, bool, str]

"""``@on`` and ``@after``: mark ChargePoint methods as handlers of OCPP actions.

The decorators only tag the function. The route table is built once per class, when the class is
created (:func:`routes_of`): it is inherited, a subclass may override a route by redefining the
method or by marking another method for the same action, and there is no module-level registry,
so two ChargePoint classes never see each other's handlers.

Each handler's signature is inspected once, then: a handler receives the payload as snake_case
keyword arguments; one without ``**kwargs`` gets only the parameters it declares, so a new optional
field or customData never crashes it; ``call_unique_id`` is passed when declared.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

__all__ = ["after", "on"]

F = TypeVar("F", bound=Callable[..., Any])

_ON_ATTR: Final = "_trio_ocpp_on"
_AFTER_ATTR: Final = "_trio_ocpp_after"


def _action_name(action: str | enum.Enum) -> str:
    # Action enums are str enums whose value is the wire name.
    return str(action.value) if isinstance(action, enum.Enum) else action


def on(action: str | enum.Enum, *, skip_schema_validation: bool = False) -> Callable[[F], F]:
    """Mark a method as the handler of the CALL (or 2.1 SEND) ``action``.

    ``skip_schema_validation`` turns off validation of the request and of the handler's response.
    """

    def decorate(func: F) -> F:
        marks = getattr(func, _ON_ATTR, ())
        setattr(func, _ON_ATTR, (*marks, (_action_name(action), skip_schema_validation)))
        return func

    return decorate


def after(action: str | enum.Enum, *, inject_response: bool = False) -> Callable[[F], F]:
    """Mark a method to run after the response to ``action`` was sent.

    It receives the same arguments as the ``@on`` handler, plus ``response`` (the call_result
    object that was sent) when ``inject_response`` is true. It runs in the connection's nursery;
    an exception it raises is logged and the connection lives on.
    """

    def decorate(func: F) -> F:
        marks = getattr(func, _AFTER_ATTR, ())
        setattr(func, _AFTER_ATTR, (*marks, (_action_name(action), inject_response)))
        return func

    return decorate


@attrs.frozen
class Handler:
    """A routed method and what its signature asked for, inspected once."""

    name: str  # looked up on the instance, so a subclass override of the method wins
    is_async: bool
    #: None: the handler takes ``**kwargs`` and gets every field; else only these names.
    accepted: frozenset[str] | None
    wants_unique_id: bool
    skip_schema_validation: bool = False
    inject_response: bool = False

    def arguments(self, fields: dict[str, Any], unique_id: str) -> dict[str, Any]:
        """The keyword arguments for one call of this handler."""
        accepted = self.accepted
        kwargs = fields if accepted is None else {k: v for k, v in fields.items() if k in accepted}
        if self.wants_unique_id:
            kwargs["call_unique_id"] = unique_id
        return kwargs


def _inspect(name: str, func: Callable[..., Any], **options: bool) -> Handler:
    params = inspect.signature(func).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = None if takes_kwargs else frozenset(params) - {"self", "call_unique_id"}
    return Handler(
        name=name,
        is_async=inspect.iscoroutinefunction(func),
        accepted=accepted,
        wants_unique_id="call_unique_id" in params,
        **options,
    )


@attrs.frozen
class Routes:
    """The handlers of one ChargePoint class, by action."""

    on: Mapping[str, Handler]
    after: Mapping[str, tuple[Handler, ...]]


def routes_of(cls: type) -> Routes:
    """Build the route table of ``cls`` from its methods, base classes first."""
    on_routes: dict[str, Handler] = {}
    after_routes: dict[str, list[Handler]] = {}
    seen: set[str] = set()
    # Walk the most derived definition of each attribute name only: an override without a
    # decorator removes the route it replaces.
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            for action, skip in getattr(func, _ON_ATTR, ()):
                on_routes.setdefault(action, _inspect(name, func, skip_schema_validation=skip))
            for action, inject in getattr(func, _AFTER_ATTR, ()):
                after_routes.setdefault(action, []).append(
                    _inspect(name, func, inject_response=inject)
                )
    return Routes(on_routes, {a: tuple(hs) for a, hs in after_routes.items()})

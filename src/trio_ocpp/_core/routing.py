"""``@on`` and ``@after``: mark ChargePoint methods as handlers of OCPP actions.

The decorators only tag the function. The route table is built once per class, when the class is
created (:func:`handlers_of`): it is inherited, a subclass may override a route by redefining the
method or by marking another method for the same action, and there is no module-level registry,
so two ChargePoint classes never see each other's handlers.

Each handler's signature is inspected once, then: a handler receives the payload as snake_case
keyword arguments; one without ``**kwargs`` gets only the parameters it declares, so a new optional
field or customData never crashes it; ``call_unique_id`` is passed when declared.

The parameters are checked when the class of a version is created (it has ``_ocpp_version``):
each must be a field of the action's request, ``call_unique_id``, or, in an ``@after`` hook with
``inject_response=True``, ``response``. Anything else is a TypeError then, not a parameter that
stays None for ever. A parameter may use a field's alias, the ``ocpp`` package's spelling
(2.1 ``iso_15118_certificate_hash_data``): the field is passed under that name.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from .payload import payload_class
from .schemas import MessageKind, actions

__all__ = ["Handler", "Handlers", "after", "create_route_map", "handlers_of", "on"]

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
    #: (field, parameter): fields passed under an alias the handler declared.
    renames: tuple[tuple[str, str], ...] = ()

    def arguments(self, fields: dict[str, Any], unique_id: str) -> dict[str, Any]:
        """The keyword arguments for one call of this handler."""
        accepted = self.accepted
        kwargs = fields if accepted is None else {k: v for k, v in fields.items() if k in accepted}
        if self.renames:
            kwargs = dict(kwargs)  # ``fields`` may be the caller's
            for field, parameter in self.renames:
                if field in kwargs:
                    kwargs[parameter] = kwargs.pop(field)
        if self.wants_unique_id:
            kwargs["call_unique_id"] = unique_id
        return kwargs


@attrs.frozen
class _Request:
    """What a handler may declare for one action: its fields, and their aliases."""

    description: str  # "the OCPP 2.1 Authorize request"
    fields: frozenset[str]
    aliases: Mapping[str, str]  # alias -> field


def _request(version: str | None, action: str) -> _Request | None:
    """None where nothing can be checked: no version yet (a mixin), or an action it lacks."""
    if version is None:
        return None
    kind = MessageKind.SEND if action in actions(version, MessageKind.SEND) else MessageKind.REQUEST
    if action not in actions(version, kind):
        return None
    cls = payload_class(version, action, kind)
    fields = frozenset(field.name for field in dataclasses.fields(cls))
    return _Request(f"the OCPP {version} {action} {kind.value}", fields, cls.__ocpp_aliases__)


def _inspect(
    owner: type, name: str, func: Callable[..., Any], request: _Request | None, **options: bool
) -> Handler:
    params = inspect.signature(func).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = [
        p
        for p, param in params.items()
        if param.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        and p not in ("self", "call_unique_id")
    ]
    renames = []
    if request is not None:
        response = options.get("inject_response", False)
        for parameter in named:
            if parameter in request.fields or (parameter == "response" and response):
                continue
            field = request.aliases.get(parameter)
            if field is not None:
                renames.append((field, parameter))
                continue
            hook = "inject_response" in options
            raise TypeError(_unknown_parameter(owner, name, parameter, request, hook))
    accepted = None if takes_kwargs else frozenset(named) | {f for f, _ in renames}
    return Handler(
        name=name,
        is_async=inspect.iscoroutinefunction(func),
        accepted=accepted,
        wants_unique_id="call_unique_id" in params,
        renames=tuple(renames),
        **options,
    )


def _unknown_parameter(
    owner: type, name: str, parameter: str, request: _Request, hook: bool
) -> str:
    where = f"{owner.__qualname__}.{name}: parameter {parameter!r}"
    if parameter == "response" and hook:
        return f"{where}: an @after hook gets the response with @after(..., inject_response=True)"
    close = difflib.get_close_matches(parameter, [*request.fields, *request.aliases], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{where} is no field of {request.description}{hint}; its fields: "
        f"{', '.join(sorted(request.fields))}. A handler gets the fields it declares, "
        "call_unique_id, and with **kwargs every field"
    )


@attrs.frozen
class Handlers:
    """The handlers of one ChargePoint class, by action."""

    on: Mapping[str, Handler]
    after: Mapping[str, tuple[Handler, ...]]
    #: Of every CALL that no ``on`` handler takes: the class's ``fallback`` method, if it has
    #: one of its own.
    fallback: Handler | None = None


def handlers_of(cls: type) -> Handlers:
    """Build the route table of ``cls`` from its methods, base classes first.

    Raises TypeError for a handler parameter that no request field fills (module docstring),
    once ``cls`` belongs to a version (``cls._ocpp_version``, set by trio_ocpp.v16 etc.).
    """
    version: str | None = getattr(cls, "_ocpp_version", None)
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
                if action not in on_routes:
                    request = _request(version, action)
                    on_routes[action] = _inspect(
                        cls, name, func, request, skip_schema_validation=skip
                    )
            for action, inject in getattr(func, _AFTER_ATTR, ()):
                handler = _inspect(
                    cls, name, func, _request(version, action), inject_response=inject
                )
                after_routes.setdefault(action, []).append(handler)
    return Handlers(on_routes, {a: tuple(hs) for a, hs in after_routes.items()})


def create_route_map(obj: Any) -> dict[str, dict[str, Any]]:
    """The ``ocpp`` package's view of a ChargePoint's routes: action -> ``{"_on_action": bound
    handler, "_after_action": bound hook, "_skip_schema_validation": bool}``.

    For code that inspects routes; dispatch does not use it. trio-ocpp allows several ``@after``
    hooks per action: ``_after_action`` is the first, ``type(obj)._handlers.after`` has them all.
    """
    handlers: Handlers = type(obj)._handlers
    table: dict[str, dict[str, Any]] = {}
    for action, handler in handlers.on.items():
        table[action] = {
            "_on_action": getattr(obj, handler.name),
            "_skip_schema_validation": handler.skip_schema_validation,
        }
    for action, hooks in handlers.after.items():
        table.setdefault(action, {})["_after_action"] = getattr(obj, hooks[0].name)
    return table

"""The handlers that answer the benchmarks' messages, for trio-ocpp and for the ``ocpp`` package,
so that both do the same work: parse, validate the request, rename keys, run the handler,
validate the response, serialize."""

from __future__ import annotations

from typing import Any

from trio_ocpp import v16, v21, v201

from .messages import HEARTBEAT, MESSAGES, Message

# --- trio-ocpp handlers ------------------------------------------------------------------------

PACKAGES: dict[str, Any] = {"1.6": v16, "2.0.1": v201, "2.1": v21}


def _our_handler(message: Message) -> Any:
    """A handler returning the message's response as a call_result object, as apps do."""
    result_class = getattr(PACKAGES[message.version].call_result, message.action)
    response = result_class.from_wire(message.response)

    def handler(self: Any, **kwargs: Any) -> Any:
        return response

    return handler


def _our_class(version: str) -> type[Any]:
    from trio_ocpp.routing import on

    handlers = {
        f"on_{m.action}": on(m.action)(_our_handler(m))
        for m in (*MESSAGES, HEARTBEAT)
        if m.version == version
    }
    return type(f"Bench{version}", (PACKAGES[version].ChargePoint,), handlers)


#: trio-ocpp ChargePoint classes answering every message of their version.
OUR_CLASSES: dict[str, type[Any]] = {v: _our_class(v) for v in PACKAGES}


# --- ocpp package handlers ---------------------------------------------------------------------


def ocpp_classes() -> dict[str, type[Any]]:
    """The same ChargePoints on the ``ocpp`` package (imported only when it is installed)."""
    import ocpp.v16  # type: ignore[import-untyped]
    import ocpp.v21  # type: ignore[import-untyped]
    import ocpp.v201  # type: ignore[import-untyped]
    from ocpp.charge_point import camel_to_snake_case  # type: ignore[import-untyped]
    from ocpp.routing import on  # type: ignore[import-untyped]

    packages: dict[str, Any] = {"1.6": ocpp.v16, "2.0.1": ocpp.v201, "2.1": ocpp.v21}

    def handler(message: Message) -> Any:
        module = packages[message.version].call_result
        response = getattr(module, message.action)(**camel_to_snake_case(message.response))

        def answer(self: Any, **kwargs: Any) -> Any:
            return response

        # The ocpp package finds handlers by function name, in a list shared by all classes.
        answer.__name__ = f"on_{message.action}"
        return answer

    classes = {}
    for version, package in packages.items():
        handlers = {
            f"on_{m.action}": on(m.action)(handler(m))
            for m in (*MESSAGES, HEARTBEAT)
            if m.version == version
        }
        classes[version] = type(f"OcppBench{version}", (package.ChargePoint,), handlers)
    return classes

"""Checks of what ``serve()`` and ``Server`` are given, for code written for ``websockets.serve``.

That API takes a connection handler and ``subprotocols=``; ours takes ChargePoint classes and
offers their versions itself. Passed the old arguments, the server says what to pass instead,
rather than failing later with "'function' object is not iterable".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._runtime.charge_point import ChargePoint

__all__ = ["charge_point_classes", "refuse_subprotocols"]

_CLASSES_INSTEAD = (
    "pass the ChargePoint class of each version the server speaks: serve(MyChargePoint, host, "
    "port), or [MyCP16, MyCP201] for several. The server accepts each connection itself (the "
    "subprotocol, the identity from the path) and runs one ChargePoint per connection; checks "
    "made in a websockets handler go into on_connect=, an async function of the "
    "ConnectionRequest that may raise RejectConnection(404)"
)


def charge_point_classes(charge_points: object) -> list[type[ChargePoint]]:
    """The classes of ``Server(charge_points)``; TypeError saying what to pass for anything else."""
    if isinstance(charge_points, type):
        items: list[Any] = [charge_points]
    elif callable(charge_points) or not isinstance(charge_points, Iterable):
        raise TypeError(f"Server and serve() got {charge_points!r}: {_CLASSES_INSTEAD}")
    else:
        items = list(charge_points)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, ChargePoint)):
            raise TypeError(f"{item!r} is not a ChargePoint class: {_CLASSES_INSTEAD}")
        if not hasattr(item, "_ocpp_version"):
            raise TypeError(
                f"{item.__qualname__} has no OCPP version: subclass the ChargePoint of one "
                "(trio_ocpp.v16, trio_ocpp.v201 or trio_ocpp.v21)"
            )
    return items


def refuse_subprotocols(subprotocols: object) -> None:
    """Refuse websockets.serve's ``subprotocols=`` with what replaces it."""
    if subprotocols is not None:
        raise TypeError(
            "serve() takes no subprotocols=: the server offers the version of "
            "each ChargePoint class it was given (ocpp1.6 for a trio_ocpp.v16.ChargePoint "
            "subclass) and picks the client's first choice among them; pass one class per "
            "version, and default_version= to serve clients that offer none"
        )

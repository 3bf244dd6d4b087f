"""What code written for ``websockets.serve`` passes to ``serve``/``Server`` gets an error that
says what to pass instead."""

from __future__ import annotations

from typing import Any

import pytest

import trio_ocpp
from trio_ocpp import charge_point, v16


async def on_connect(websocket: Any, path: str = "") -> None:
    """A connection handler in the style of the ocpp package's examples."""


def test_a_connection_handler_is_refused_with_what_to_pass() -> None:
    with pytest.raises(TypeError) as info:
        trio_ocpp.Server(on_connect)  # type: ignore[arg-type]
    message = str(info.value)
    assert "<function on_connect" in message
    assert "serve(MyChargePoint, host, port)" in message and "on_connect=" in message


@pytest.mark.parametrize("bad", [[on_connect], [v16.ChargePoint, "ocpp2.0.1"], 5])
def test_anything_but_charge_point_classes_is_refused(bad: Any) -> None:
    with pytest.raises(TypeError, match="ChargePoint class"):
        trio_ocpp.Server(bad)


def test_a_class_without_a_version_is_refused() -> None:
    class Base(charge_point.ChargePoint):
        pass

    with pytest.raises(TypeError, match=r"Base has no OCPP version: subclass .*trio_ocpp\.v16"):
        trio_ocpp.Server(Base)


async def test_subprotocols_are_refused_with_what_replaces_them() -> None:
    with pytest.raises(TypeError, match="one class per version, and default_version="):
        await trio_ocpp.serve(v16.ChargePoint, "127.0.0.1", 0, subprotocols=["ocpp1.6"])

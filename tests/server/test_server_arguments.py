"""What code written for ``websockets.serve`` passes to ``serve``/``Server`` gets an error that
says what to pass instead."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

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


async def test_serve_forwards_every_option_of_the_server() -> None:
    # serve() repeated Server's parameters and had drifted: it took no cluster=.
    claimed: list[str] = []

    class Membership:
        def claim(self, cp: trio_ocpp.v16.ChargePoint) -> None:
            claimed.append(cp.id)

        def release(self, cp: trio_ocpp.v16.ChargePoint) -> None:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(
                trio_ocpp.serve, trio_ocpp.v16.ChargePoint, "127.0.0.1", 0, cluster=Membership()
            )
        )
        url = f"ws://127.0.0.1:{server.port}"
        with trio.fail_after(5):
            async with trio_ocpp.connect(url, trio_ocpp.v16.ChargePoint, identity="CP_1"):
                while not claimed:
                    await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert claimed == ["CP_1"]
    with pytest.raises(TypeError, match="no_such_option"):
        await trio_ocpp.serve(trio_ocpp.v16.ChargePoint, no_such_option=1)

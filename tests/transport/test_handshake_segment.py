"""Frames in the opening request's segment (issue 23, item 3), over TCP and TLS to a real Server.

A client may send its first frames in the same segment as its request: they belong to the
connection (CONFORMANCE 36) and get what they would get a moment later — a Close is echoed, a
protocol error gets 1002, text that is not UTF-8 1007, a ping its pong, a CALL its answer — and
none of it is a failure of the server: no traceback, ``connection_failures`` stays 0. Before,
the frames were parsed before the upgrade: the peer got 101 and then the TCP close, and the
server logged a traceback per connection.
"""

from __future__ import annotations

import json
import logging
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from helpers.peers import (
    BOOT,
    CLOSE,
    MAX_MESSAGE,
    PING,
    PONG,
    TEXT,
    Peer,
    frame,
    request,
    serving,
    text,
    tls_pair,
    upgraded,
)

from trio_ocpp import Server

PIPELINED = {
    "close 1000": (frame(CLOSE, struct.pack("!H", 1000)), 1000),
    "close 4001 with a reason": (frame(CLOSE, struct.pack("!H", 4001) + b"bye"), 4001),
    "unmasked frame": (frame(TEXT, b"[]", mask=False), 1002),
    "reserved bits": (frame(TEXT, b"[]", rsv=4), 1002),
    "a second request": (request(), 1002),
    "invalid UTF-8": (frame(TEXT, b'["\xff"]'), 1007),
    "a CALL, then invalid UTF-8": (text(BOOT) + frame(TEXT, b'["\xff"]'), 1007),
}


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return tls_pair()


@pytest.fixture(params=["tcp", "tls"])
def transport(
    request: pytest.FixtureRequest, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    return tls if request.param == "tls" else None


@asynccontextmanager
async def segment(
    tls: tuple[ssl.SSLContext, ssl.SSLContext] | None, data: bytes
) -> AsyncIterator[tuple[Server, Peer]]:
    """A Server, and a peer that sent its request and ``data`` in one write (one TLS record)."""
    async with serving(MAX_MESSAGE, ssl_context=tls[0] if tls else None) as server:
        peer = await upgraded(server.port, tls=tls[1] if tls else None, data=data)
        async with peer.stream:
            yield server, peer
        with trio.fail_after(5):
            while server.charge_points:
                await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked(0.05)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not tracebacks, f"the server logged tracebacks: {tracebacks}"


@pytest.mark.parametrize(("data", "code"), PIPELINED.values(), ids=PIPELINED.keys())
async def test_frames_behind_the_request_get_their_close_code(
    transport: Any, data: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trio_ocpp")
    async with segment(transport, data) as (server, peer):
        with trio.fail_after(5):
            got = await peer.frame()
            if got is not None and got[0] == TEXT:  # the CALL before the bad frame
                assert json.loads(got[1])[:2] == [3, "b1"]
                got = await peer.frame()
            assert got is not None, "101, then the TCP close without a Close frame"
            assert got[0] == CLOSE
            assert struct.unpack("!H", got[1][:2])[0] == code
            assert await peer.frame() is None  # and then the TCP close
    assert server.connection_failures == 0
    no_traceback(caplog)


async def test_a_ping_and_a_call_behind_the_request_are_answered(
    transport: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trio_ocpp")
    async with segment(transport, frame(PING, b"p") + text(BOOT)) as (server, peer):
        with trio.fail_after(5):
            assert await peer.frame() == (PONG, b"p")
            assert (await peer.answer())[:2] == [3, "b1"]
            assert "CP_1" in server.charge_points
            await peer.stream.send_all(frame(CLOSE, struct.pack("!H", 1000)))
            assert await peer.close_code() == 1000
    assert server.connection_failures == 0
    no_traceback(caplog)

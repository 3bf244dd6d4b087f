"""Accepting: connections that wait in the backlog are taken in one pass of the scheduler
(``_server/accept.py``), as many as the server has room for, and each is served like any
other."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

import trio

from trio_ocpp._core.logsafe import RepeatLimiter
from trio_ocpp._server import accept
from trio_ocpp._server.accept import accept_forever

CLIENTS = 10


class Counting:
    """A nursery that counts the connections the accept loop hands over."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery, self.started = nursery, 0

    def start_soon(self, function: Callable[..., Awaitable[Any]], *args: Any) -> None:
        self.started += 1
        self.nursery.start_soon(function, *args)


async def no_room() -> bool:
    return False


async def passes(room: int) -> list[int]:
    """Ten connections waiting in the backlog, then the accept loop with room for ``room``:
    how many it took in each pass (an accept, then those taken at once)."""
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CLIENTS)]
    served = 0
    done = trio.Event()
    marks: list[int] = []  # connections handed over when each pass asked for room

    def asked() -> int:
        marks.append(counting.started)
        return room

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal served
        await stream.send_all(b"hello")
        served += 1
        if served == CLIENTS:
            done.set()

    warnings = RepeatLimiter(logging.getLogger("test"), "accept")
    async with trio.open_nursery() as nursery:
        counting = Counting(nursery)
        arguments = (listener, handle, cast(trio.Nursery, counting), no_room, warnings, asked)
        await nursery.start(accept_forever, *arguments)
        with trio.fail_after(5):
            await done.wait()
        nursery.cancel_scope.cancel()
    for client in clients:
        assert client.recv(5) == b"hello"  # each served on its own connection
        client.close()
    await listener.aclose()
    ends = [mark - 1 for mark in marks[1:]] + [CLIENTS]  # handed over when each pass ended
    return [end - start for start, end in zip([0, *ends], ends, strict=False)]


async def test_connections_in_the_backlog_are_taken_in_one_pass() -> None:
    assert accept.BURST + 1 >= CLIENTS
    assert await passes(room=100) == [CLIENTS]


async def test_a_pass_takes_no_more_than_the_server_has_room_for() -> None:
    taken = await passes(room=4)
    assert taken[0] == 4 and max(taken) == 4 and sum(taken) == CLIENTS, taken

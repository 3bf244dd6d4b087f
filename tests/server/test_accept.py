"""Accepting: connections that wait in the backlog are taken in one pass of the scheduler
(``_server/accept.py``), not one per pass, and each is served like any other."""

from __future__ import annotations

import logging
import socket

import trio

from trio_ocpp._core.logsafe import RepeatLimiter
from trio_ocpp._server import accept
from trio_ocpp._server.accept import accept_forever


async def no_room() -> bool:
    return False


async def test_connections_in_the_backlog_are_taken_in_one_pass() -> None:
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]  # in the backlog
    seen: list[int] = []  # for each handler as it starts: the connections accepted by then
    accepted: list[trio.SocketStream] = []
    done = trio.Event()

    async def handle(stream: trio.SocketStream) -> None:
        accepted.append(stream)
        await trio.lowlevel.checkpoint()  # the accept loop's pass ends before any runs on
        seen.append(len(accepted))
        await stream.send_all(b"hello")
        if len(seen) == len(clients):
            done.set()

    warnings = RepeatLimiter(logging.getLogger("test"), "accept")
    async with trio.open_nursery() as nursery:
        await nursery.start(accept_forever, listener, handle, nursery, no_room, warnings)
        with trio.fail_after(5):
            await done.wait()
        nursery.cancel_scope.cancel()
    # One trio accept, then the other nine at once: every handler found all ten accepted.
    assert min(seen) == len(clients) <= accept.BURST + 1
    for client in clients:
        assert client.recv(5) == b"hello"  # each served on its own connection
        client.close()
    await listener.aclose()

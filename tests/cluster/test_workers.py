"""Sockets that workers share: SO_REUSEPORT lets several bind one port and each accept."""

from __future__ import annotations

import pytest
import trio
from helpers.redis_server import free_port

from trio_ocpp.__main__ import parse_args
from trio_ocpp.workers import open_reuse_port_listeners


async def test_several_listeners_share_one_port_and_each_accepts() -> None:
    port = free_port()
    first = await open_reuse_port_listeners(port, "127.0.0.1")
    second = await open_reuse_port_listeners(port, "127.0.0.1")  # refused without SO_REUSEPORT
    accepted: set[int] = set()
    async with trio.open_nursery() as nursery:
        for index, listeners in enumerate((first, second)):

            async def accept(listener: trio.SocketListener, index: int = index) -> None:
                while True:
                    stream = await listener.accept()
                    accepted.add(index)
                    await stream.aclose()

            nursery.start_soon(accept, listeners[0])
        with trio.fail_after(10):
            while accepted != {0, 1}:  # the kernel spreads connections by their addresses
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.aclose()
        nursery.cancel_scope.cancel()
    for listener in first + second:
        await listener.aclose()


def test_the_command_line_options_of_workers_and_the_cluster() -> None:
    args = parse_args(["--workers", "2", "--cluster", "redis://h:1", "--cluster-events", "A, B"])
    assert (args.workers, args.cluster, args.cluster_events) == (2, "redis://h:1", ("A", "B"))
    assert parse_args([]).workers == 0  # one process, as before
    with pytest.raises(SystemExit):
        parse_args(["--cluster-events", "A"])  # needs --cluster

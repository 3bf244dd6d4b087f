"""The servers the end-to-end benchmarks measure, each run in a process of its own:

- ``trio-ocpp``: a trio_ocpp Server answering the workload's 1.6 CALLs;
- ``trio-ocpp-observed``: the same with an observer that listens to everything and does
  nothing (what observing costs);
- ``trio-ocpp-metrics``: the same with Prometheus metrics on (``observability.metrics``), to
  measure what they cost;
- ``echo``: our own WebSocket connection sending back every message, no OCPP at all: the
  ceiling of our transport;
- ``echo-trio-websocket``: the same on trio-websocket (the transport we had before);
- ``ocpp``: the ``ocpp`` package's ChargePoint on a ``websockets`` server (its defaults).

SIGUSR1 makes a server print a JSON line with its GC-tracked object count (the connections
benchmark asks it before and after the connections came).

``--gc-threshold``: CPython's generation-0 threshold (700 by default). With thousands of
connections, each message leaves objects of parked tasks that survive young collections; they
trigger full collections, which take ~0.7 s at 5,000 connections here. A higher threshold makes
those rare (see the README's Performance section).

``--frozen-clock``: trio's clock stands still (a MockClock at rate 0), so that no timer fires:
keep-alive pings, the collector's ticks and timeouts wait forever while the sockets work.
What ``benchmarks.instructions --socket`` counts then depends on the CALLs alone, not on how
long callgrind took to run them.

    python -m benchmarks.servers trio-ocpp     (prints {"port": N} once listening)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import json
import logging
import os
import signal
from typing import Any

import trio
import trio.testing
import trio_websocket

from trio_ocpp import Observer

from .loadgen import raise_fd_limit
from .workload import OUR_CLASSES, ocpp_classes

HOST = "127.0.0.1"


class Everything(Observer):
    """Told of everything, does nothing: what the observer calls cost. It takes its arguments
    by name, as an application's observer would."""

    def connection_opened(self, connection: Any) -> None:
        pass

    def connection_closed(self, connection: Any, code: int, reason: str, t: float) -> None:
        pass

    def frame_received(self, connection: Any, text: Any, frame: Any, at: float) -> None:
        pass

    def frame_sent(self, connection: Any, text: Any, frame: Any, at: float) -> None:
        pass

    def exchange(self, connection: Any, record: Any) -> None:
        pass


def observers(observed: bool, metrics: bool) -> list[Observer]:
    """A no-op observer and/or Prometheus metrics."""
    chosen: list[Observer] = [Everything()] if observed else []
    if metrics:
        from trio_ocpp.observability.metrics import Metrics

        chosen.append(Metrics())
    return chosen


def _listening(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


async def trio_ocpp_server(observed: bool = False, metrics: bool = False) -> None:
    from trio_ocpp import Server

    server = Server(OUR_CLASSES["1.6"], observers=observers(observed, metrics))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, HOST, 0)
        _listening(server.port)


async def echo_server() -> None:
    from trio_ocpp._transport.echo import echo

    handler = functools.partial(echo, subprotocol="ocpp1.6", max_message_size=2**20)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host=HOST))
        _listening(listeners[0].socket.getsockname()[1])


async def trio_websocket_echo_server() -> None:
    async def echo(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept(subprotocol="ocpp1.6")
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, echo, HOST, 0, None)
        _listening(server.port)


async def ocpp_server() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    charge_point = ocpp_classes()["1.6"]

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        cp: Any = charge_point(connection.request.path.strip("/"), connection)
        with contextlib.suppress(Exception):  # the client went away; the ocpp package raises
            await cp.start()

    async with serve(handler, HOST, 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        _listening(server.sockets[0].getsockname()[1])
        await server.serve_forever()


SERVERS = {
    "trio-ocpp": trio_ocpp_server,
    "trio-ocpp-observed": functools.partial(trio_ocpp_server, observed=True),
    "trio-ocpp-metrics": functools.partial(trio_ocpp_server, metrics=True),
    "echo": echo_server,
    "echo-trio-websocket": trio_websocket_echo_server,
    "ocpp": ocpp_server,
}


def _report_objects(signum: int, frame: Any) -> None:
    # The frozen too (the server's collector policy freezes them): what the process tracks.
    tracked = len(gc.get_objects()) + gc.get_freeze_count()
    print(json.dumps({"gc_objects": tracked}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.servers",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=SERVERS)
    parser.add_argument("--profile", metavar="FILE", help="cProfile; stats to FILE on SIGTERM")
    parser.add_argument("--gc-threshold", type=int, help="CPython's generation-0 GC threshold")
    parser.add_argument("--frozen-clock", action="store_true", help="no timer ever fires")
    args = parser.parse_args()
    kind = args.kind
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 10, 10)
    if args.profile:
        profile = cProfile.Profile()

        def dump(signum: int, frame: Any) -> None:
            profile.disable()
            profile.dump_stats(args.profile)
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
        profile.enable()
    signal.signal(signal.SIGUSR1, _report_objects)
    raise_fd_limit()
    logging.basicConfig(level=logging.ERROR)  # no line per frame
    if kind == "ocpp":
        asyncio.run(ocpp_server())
    else:
        clock = trio.testing.MockClock() if args.frozen_clock else None
        trio.run(SERVERS[kind], clock=clock)


if __name__ == "__main__":
    main()

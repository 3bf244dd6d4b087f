"""A real server for a test: on a free port of 127.0.0.1, stopped when the block ends."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio

from .._server.server import Server

__all__ = ["running", "serving"]


@asynccontextmanager
async def running(server: Server, **run: Any) -> AsyncIterator[Server]:
    """Run ``server`` (made already) on a free port of 127.0.0.1 for the block; ``run`` is
    what its ``run()`` takes."""
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run, "127.0.0.1", 0, **run))
        yield server
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def serving(
    classes: Any, *, run: Mapping[str, Any] | None = None, **options: Any
) -> AsyncIterator[Server]:
    """``async with serving(MyCentralSystem, basic_auth=...) as server``: a ``Server`` made
    with ``options`` and run (``run``: its ``run()``'s arguments) on a free port of 127.0.0.1,
    at ``f"ws://127.0.0.1:{server.port}/"``. Keep-alive pings are off unless
    ``charge_point_options`` says otherwise."""
    options.setdefault("charge_point_options", {"ping_interval": 0})
    async with running(Server(classes, **options), **(run or {})) as server:
        yield server

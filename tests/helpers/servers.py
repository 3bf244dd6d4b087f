"""A real server for a test: on a free port of 127.0.0.1, stopped when the block ends.

``async with serving(MyCentralSystem, basic_auth=..., run={"max_message_size": 1000}) as
server``: the keyword arguments are the :class:`~trio_ocpp.Server`'s, ``run`` its ``run()``'s;
keep-alive pings are off unless ``charge_point_options`` says otherwise. ``running(server)`` runs
one made already. The ``serving`` fixture of ``tests/conftest.py`` gives the same.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio

from trio_ocpp import Server

__all__ = ["running", "serving"]


@asynccontextmanager
async def running(server: Server, **run: Any) -> AsyncIterator[Server]:
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run, "127.0.0.1", 0, **run))
        yield server
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def serving(
    classes: Any, *, run: Mapping[str, Any] | None = None, **options: Any
) -> AsyncIterator[Server]:
    options.setdefault("charge_point_options", {"ping_interval": 0})
    async with running(Server(classes, **options), **(run or {})) as server:
        yield server

"""A charge point that moves to another node: its old connection's ``disconnected()`` runs on
the node it left, once, with the close the takeover made."""

from __future__ import annotations

from typing import ClassVar

import pytest
import trio
from helpers.cluster_parts import Csms, members_become, node, station
from helpers.redis_server import RedisServer

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from trio_ocpp.cluster import connect


class Recording(Csms):
    ended: ClassVar[list[tuple[str, int, str]]] = []
    changed: ClassVar[trio.Event]

    async def disconnected(self, code: int, reason: str) -> None:
        self.ended.append((self.id, code, reason))
        self.changed.set()


async def test_a_takeover_by_another_node_runs_disconnected_on_the_old_one(
    redis: RedisServer,
) -> None:
    Recording.ended, Recording.changed = [], trio.Event()
    async with (
        connect(redis.url) as a,
        connect(redis.url) as b,
        node(a, Recording) as on_a,
        node(b, Recording) as on_b,
        station(on_a, "CP"),
    ):
        await members_become(b, {"CP": a.node_id})
        async with station(on_b, "CP"):
            with trio.fail_after(5):
                await Recording.changed.wait()
            # On the node it left: unregistered by then, and told why.
            assert on_a.get("CP") is None and on_b.get("CP") is not None
            assert Recording.ended == [
                ("CP", 1000, "replaced by a newer connection on another node")
            ]

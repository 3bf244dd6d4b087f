"""The newest connection wins by when it was accepted, not by when its claim reached the broker
(issue 23, item 7).

The red team's case: X connects to node A, then to B, whose claim stalls before it is recorded,
then to A again (the newest). When B's claim arrived, it overwrote A's: A's newest connection
was closed as "replaced by a newer connection on another node", and the membership pointed at
B's older one. Here B's claims wait on an event (as if its membership task were stuck).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

pytest.importorskip("glide", reason='the cluster needs valkey-glide: pip install ".[redis]"')

from helpers.cluster_parts import broker, get_variables, station, two_servers
from helpers.redis_server import RedisServer


async def test_a_late_claim_of_an_older_connection_closes_that_one(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with two_servers(redis.url, "X") as (a, b, server_a, server_b):
        resume = trio.Event()
        claim = broker(b).claim

        async def stalled(held: Sequence[tuple[str, str]], ttl: float) -> object:
            await resume.wait()
            return await claim(held, ttl)

        broker(b).claim = stalled  # type: ignore[method-assign]
        async with station(server_b, "X"):  # accepted on B; its claim is not recorded yet
            await trio.sleep(0.1)
            async with station(server_a, "X") as newest:  # accepted on A later: the newest
                await trio.sleep(0.1)
                newest_here = server_a.get("X")
                assert newest_here is not None
                resume.set()  # B's claim arrives now, after A's newer one
                # B's claim was refused by the script that would have replaced A's (and told
                # A): once B closed its own connection, that moment is past.
                with trio.fail_after(3):
                    while server_b.get("X") is not None and server_a.get("X") is newest_here:
                        await trio.sleep(0.02)
                assert server_a.get("X") is newest_here, "the newest connection was closed"
                assert server_b.get("X") is None, "the older connection is still open"
                assert await b.charge_points() == {"X": a.node_id}
                with trio.fail_after(5):
                    result = await b.call("X", get_variables())
                assert result.get_variable_result
                assert newest.received == ["GetVariables"]
    # The log names the identity and both connections: node and when each was accepted.
    (line,) = [r.getMessage() for r in caplog.records if "replaced by a newer one" in r.message]
    assert line.startswith(f"X: the connection here (node {b.node_id}, accepted 20")
    assert f"replaced by a newer one (node {a.node_id}, accepted 20" in line

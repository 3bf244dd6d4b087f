"""The server's budget for unfinished messages (issue 23, item 2): in total and in time.

Past the budget the biggest holders are closed with 1009 (not the newcomer unless it holds the
most), and a message not finished within the deadline gets 1008, however busy its peer is
with pings and empty continuations. Before there was no bound in total, and a peer answering
pings between fragments kept its hoard for good.
"""

from __future__ import annotations

import gc
import json
import ssl
import struct
import weakref

import pytest
import trio
from helpers.peers import (
    BOOT,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    CentralSystem,
    KiB,
    MiB,
    frame,
    serving,
    synced,
    text,
    tls_pair,
    upgraded,
)

from trio_ocpp import ReceiveBudget, Server
from trio_ocpp._transport.receive_budget import RECEIVE_BUDGET

# -- the server's budget -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return tls_pair()


@pytest.mark.parametrize("scheme", ["ws", "wss"])
async def test_past_the_budget_the_biggest_holder_is_closed_with_1009(
    scheme: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_tls, client_tls = tls if scheme == "wss" else (None, None)
    budget = 256 * KiB  # closes the biggest down to 230.4 KiB
    async with serving(64 * KiB, ssl_context=server_tls, receive_budget=budget) as server:
        holders = {}
        for name, size in [("A", 20), ("B", 62), ("C", 62), ("D", 40), ("E", 62)]:
            holders[name] = peer = await upgraded(server.port, f"/{name}", client_tls)
            await peer.stream.send_all(frame(TEXT, b" " * size * KiB, fin=False))
            await synced(peer)
        assert server._receive_budget.used == 246 * KiB
        # F takes the total to 276 KiB: B goes, the first of the biggest, not F.
        holders["F"] = peer = await upgraded(server.port, "/F", client_tls)
        await peer.stream.send_all(frame(TEXT, b" " * 30 * KiB, fin=False))
        assert await holders["B"].close_code() == 1009
        for name in "ACDEF":
            await synced(holders[name])
        assert server._receive_budget.used == 214 * KiB
        assert server._receive_budget.evicted == 1
        assert set(server.charge_points) == set("ACDEF")
        # The memory is there for whoever needs it next.
        good = await upgraded(server.port, "/GOOD", client_tls)
        await good.stream.send_all(text(BOOT))
        assert (await good.answer())[:2] == [3, "b1"]
        for peer in [*holders.values(), good]:
            await peer.stream.aclose()
        with trio.fail_after(5):
            while server._receive_budget.used:
                await trio.sleep(0.01)
        assert server.connection_failures == 0


async def test_a_newcomer_that_holds_the_most_is_the_one_closed() -> None:
    async with serving(64 * KiB, receive_budget=128 * KiB) as server:
        a = await upgraded(server.port, "/A")
        b = await upgraded(server.port, "/B")
        await a.stream.send_all(frame(TEXT, b" " * 30 * KiB, fin=False))
        await b.stream.send_all(frame(TEXT, b" " * 40 * KiB, fin=False))
        await synced(a)
        await synced(b)
        c = await upgraded(server.port, "/C")
        await c.stream.send_all(frame(TEXT, b" " * 60 * KiB, fin=False))  # 130 KiB: C goes
        assert await c.close_code() == 1009
        await synced(a)
        await synced(b)
        assert server._receive_budget.used == 70 * KiB
        for peer in (a, b, c):
            await peer.stream.aclose()


async def test_a_message_not_finished_in_time_gets_1008_though_pings_are_answered() -> None:
    budget = ReceiveBudget(message_timeout=0.5)
    async with serving(MiB, receive_budget=budget) as server:
        hoarder = await upgraded(server.port, "/HOARDER")
        await hoarder.stream.send_all(frame(TEXT, b"[", fin=False))
        with trio.fail_after(3):
            while True:  # alive and busy: pings, pongs, empty continuations
                await hoarder.stream.send_all(frame(PING) + frame(PONG) + frame(CONT, fin=False))
                got = await hoarder.frame()
                assert got is not None
                if got[0] == CLOSE:
                    assert struct.unpack("!H", got[1][:2])[0] == 1008
                    break
                await trio.sleep(0.1)
        assert budget.used == 0


async def test_a_busy_stream_of_messages_is_no_unfinished_message() -> None:
    # Every read ends inside a frame, so something is always held, but each read finishes a
    # message: the deadline starts again with each.
    budget = ReceiveBudget(message_timeout=0.5)
    async with serving(MiB, receive_budget=budget) as server:
        peer = await upgraded(server.port, "/BUSY")
        call = text(BOOT)
        await peer.stream.send_all(call[:5])
        with trio.fail_after(5):
            for _ in range(10):
                await trio.sleep(0.1)
                await peer.stream.send_all(call[5:] + call[:5])
                assert (await peer.answer())[:2] == [3, "b1"]
        assert budget.used  # the next one's first bytes
        assert "BUSY" in server.charge_points
        await peer.stream.aclose()


async def test_a_slow_fragmented_message_within_the_deadline_is_answered() -> None:
    budget = ReceiveBudget(message_timeout=2)
    async with serving(MiB, receive_budget=budget) as server:
        peer = await upgraded(server.port, "/SLOW")
        boot = json.dumps(BOOT).encode()
        parts = [boot[i : i + 20] for i in range(0, len(boot), 20)]
        for i, part in enumerate(parts):
            await peer.stream.send_all(frame(CONT if i else TEXT, part, fin=i == len(parts) - 1))
            await trio.sleep(0.1)
        assert (await peer.answer())[:2] == [3, "b1"]
        assert budget.used == 0
        await peer.stream.aclose()


async def test_the_budget_must_hold_two_messages() -> None:
    server = Server(CentralSystem, receive_budget=MiB)
    with pytest.raises(ValueError, match="two messages"):
        await server.run("127.0.0.1", 0, max_message_size=MiB)


# -- the budget itself -------------------------------------------------------------------------


class Hoard:
    def __init__(self, budget: ReceiveBudget, name: str, held: int) -> None:
        self.budget = budget
        self.name = name
        self.evicted = False
        budget.charge(self, held)

    def _evict(self) -> None:
        self.evicted = True
        self.budget.charge(self, 0)

    async def _close_failed(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_the_biggest_go_first_the_oldest_among_equals_until_a_tenth_is_free(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = ReceiveBudget(1000)
    hoards = [
        Hoard(budget, name, held)
        for name, held in zip("abcde", [100, 300, 300, 200, 90], strict=True)
    ]
    assert budget.used == 990 and budget.evicted == 0
    newcomer = Hoard(budget, "f", 300)  # 1290: b and c go (690), not f, though as big
    assert [h.name for h in [*hoards, newcomer] if h.evicted] == ["b", "c"]
    assert budget.used == 690 and budget.evicted == 2
    assert "closed the 2 biggest holders" in caplog.text


async def test_the_eviction_warnings_are_limited(caplog: pytest.LogCaptureFixture) -> None:
    budget = ReceiveBudget(1000)
    hoards = [Hoard(budget, str(i), 1001) for i in range(50)]
    assert all(h.evicted for h in hoards) and budget.used == 0
    assert caplog.text.count("biggest holders") == 5


async def test_a_holder_collected_without_closing_is_discharged() -> None:
    budget = ReceiveBudget(1000)
    hoard = Hoard(budget, "a", 400)
    ref = weakref.ref(hoard)
    del hoard
    gc.collect()
    assert ref() is None and budget.used == 0


async def test_a_budget_serves_one_server() -> None:
    budget = ReceiveBudget()
    with pytest.raises(ValueError):
        ReceiveBudget(0)
    async with trio.open_nursery() as nursery:
        await nursery.start(budget.run)
        with pytest.raises(RuntimeError):
            await budget.run()
        nursery.cancel_scope.cancel()


def test_the_example_server_takes_the_budget_in_mib() -> None:
    from trio_ocpp.__main__ import parse_args

    assert parse_args([]).receive_budget * MiB == RECEIVE_BUDGET
    assert parse_args(["--receive-budget", "64"]).receive_budget == 64

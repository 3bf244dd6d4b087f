"""Logs that keep the signal (issue 23, item 8): noise from one source does not hide another.

The red team's finding: one server-wide budget of 20 warnings per kind per 10 s, so 25 junk
replacements and then VICTIM's takeover, or junk password failures and then guesses on VICTIM,
left no line naming VICTIM; and the summary named no one and came only with the next warning of
its kind. Here the server runs on real sockets, and the peers are raw clients.
"""

from __future__ import annotations

import base64
import functools
import logging
from contextlib import AsyncExitStack

import pytest
import trio
from helpers.memory_connection import MemoryConnection
from helpers.peers import TEXT, Peer, frame, request

from trio_ocpp import Server, testing, v16, v21
from trio_ocpp._core.throttle import AuthThrottle

REPLACES = "new connection replaces the previous one"


serving = functools.partial(testing.serving, v16.ChargePoint)


async def handshake(server: Server, identity: str, **headers: str) -> tuple[int, Peer]:
    """Open a connection as ``identity``: the HTTP status and the peer (to close)."""
    peer = Peer(await trio.open_tcp_stream("127.0.0.1", server.port))
    await peer.stream.send_all(request(f"/{identity}", **headers))
    with trio.fail_after(5):
        status, _ = await peer.response()
    return status, peer


async def connect_times(server: Server, stack: AsyncExitStack, identity: str, times: int) -> None:
    """Connect as ``identity`` ``times`` times, each connection replacing the one before."""
    for _ in range(times):
        status, peer = await handshake(server, identity)
        assert status == 101
        stack.push_async_callback(peer.stream.aclose)
    with trio.fail_after(5):
        while server.get(identity) is None:
            await trio.sleep(0.01)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_junk_replacements_do_not_hide_a_takeover(caplog: pytest.LogCaptureFixture) -> None:
    async with serving() as server, AsyncExitStack() as stack:
        await connect_times(server, stack, "JUNK", 26)  # 25 replacements
        await connect_times(server, stack, "VICTIM", 2)  # the takeover
        with trio.fail_after(5):
            while f"VICTIM: {REPLACES}" not in warnings_of(caplog):
                await trio.sleep(0.01)


async def test_junk_password_failures_do_not_hide_guesses_on_a_victim(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(basic_auth={"VICTIM": "right", "JUNK": "right"}) as server:
        server._gate._throttle = AuthThrottle(free_failures=10**6)  # no waiting in this test
        for identity in ["JUNK"] * 30 + ["VICTIM"] * 3:
            wrong = base64.b64encode(f"{identity}:guess".encode()).decode()
            status, peer = await handshake(server, identity, Authorization=f"Basic {wrong}")
            assert status == 401
            await peer.stream.aclose()
    guesses = [m for m in warnings_of(caplog) if m.startswith("VICTIM")]
    assert len(guesses) == 3, warnings_of(caplog)
    for message in guesses:  # which address guesses, too
        assert message.startswith("VICTIM (127.0.0.1:"), message
        assert message.endswith("refused: wrong Basic auth password"), message


async def test_the_summary_comes_at_the_end_of_the_period_naming_the_top_sources(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving() as server, AsyncExitStack() as stack:
        server._warnings._period = 0.5  # the server's is 10 s: too long to wait for here
        await connect_times(server, stack, "JUNK_A", 22)  # 21 replacements
        await connect_times(server, stack, "JUNK_B", 8)  # 7
        # No warning follows: the end of the period alone writes the summary.
        with trio.fail_after(3):
            while not any(" more like " in m for m in warnings_of(caplog)):
                await trio.sleep(0.01)
    (summary,) = [m for m in warnings_of(caplog) if " more like " in m]
    assert summary.startswith(f"server: ... 18 more like '%s: {REPLACES}' in the last ")
    assert summary.endswith("(most from: JUNK_A 16, JUNK_B 2)")


async def test_a_connections_summary_comes_at_the_end_of_the_period(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    connection = MemoryConnection()
    cp = v21.ChargePoint("CP_1", connection, max_invalid_frames=10**6)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        for _ in range(25):
            connection.deliver("not json")
        await trio.sleep(11)  # quiet, and still connected
        messages = warnings_of(caplog)
        assert "CP_1: ... 15 more like '%s: invalid frame (%s)' in the last 10 s" in messages
        nursery.cancel_scope.cancel()


async def test_reconnecting_does_not_buy_a_new_budget(caplog: pytest.LogCaptureFixture) -> None:
    # An authenticated peer that sends junk and reconnects got 10 lines per connection.
    async with serving() as server, AsyncExitStack() as stack:
        for _ in range(6):
            status, peer = await handshake(server, "EVIL")
            assert status == 101
            stack.push_async_callback(peer.stream.aclose)
            await peer.stream.send_all(frame(TEXT, b"junk") * 20)
            with trio.fail_after(5):  # answered: 20 CALLERRORs with id -1
                for _ in range(20):
                    answer = await peer.frame()
                    assert answer is not None and b'"-1"' in answer[1]
        invalid = [m for m in warnings_of(caplog) if "EVIL: invalid frame" in m]
        assert len(invalid) == 5, len(invalid)


async def test_frames_after_the_close_for_misbehaviour_are_not_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 150 junk frames in one burst: closed at the 100th, the other 50 logged a line each.
    async with serving() as server:
        status, peer = await handshake(server, "EVIL")
        assert status == 101
        async with peer.stream:
            await peer.stream.send_all(frame(TEXT, b"junk") * 150)
            with trio.fail_after(5):
                while (got := await peer.frame()) is not None and got[0] != 0x8:
                    pass  # CALLERRORs, then the Close frame
            assert got is not None and got[1][:2] == (1002).to_bytes(2, "big")
        with trio.fail_after(5):
            while server.get("EVIL") is not None:  # the connection's reader is done
                await trio.sleep(0.01)
    closing = [m for m in warnings_of(caplog) if "than valid ones, closing" in m]
    assert len(closing) == 1, closing

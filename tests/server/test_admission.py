"""Admission (issue 23, item 1): one address holding slots cannot keep charge points out.

Attackers share the charge points' address here (loopback), as behind a NAT: what saves the
good charge points is the order in which connections are closed to make room, not a per-address
cap. Every attack below refused every newcomer at 991db0a.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import math
import resource
import ssl
import sys
from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio
from helpers.peers import tls_pair

import trio_ocpp
from trio_ocpp import testing, v16
from trio_ocpp._server.admission import Admission, Ticket
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
BOOT = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
KEY = base64.b64encode(b"0123456789abcdef").decode()


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")


serving = functools.partial(testing.serving, CentralSystem)


def upgrade(identity: str) -> bytes:
    return (
        f"GET /{identity} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    ).encode()


async def never_booting(port: int, identity: str) -> trio.SocketStream:
    """An upgraded connection that never sends a CALL."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(upgrade(identity))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await stream.receive_some()
        assert chunk, "closed during the handshake"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return stream


async def boots(port: int, identity: str, ssl_context: ssl.SSLContext | None = None) -> bool:
    """Whether a good charge point gets in and has its BootNotification answered."""
    scheme = "wss" if ssl_context else "ws"
    try:
        with trio.fail_after(5):
            async with trio_ocpp.connect(
                f"{scheme}://127.0.0.1:{port}",
                v16.ChargePoint,
                identity=identity,
                ssl_context=ssl_context,
                connect_timeout=4,
            ) as cp:
                return (await cp.call(BOOT)).status == "Accepted"
    except (trio_ocpp.HandshakeError, trio_ocpp.exceptions.ConnectionClosedError):
        return False


async def is_open(stream: trio.SocketStream, wait: float = 0.05) -> bool:
    """False once the server closed it (what it sends before, a Close frame, is skipped)."""
    with trio.move_on_after(wait):
        try:
            while await stream.receive_some():
                pass
        except trio.BrokenResourceError:
            pass
        return False
    return True


# -- the policy alone -----------------------------------------------------------------------------


def test_the_first_to_go_is_overdue_then_the_longest_waiting_never_a_proven_one() -> None:
    admission = Admission(max_handshakes=None, max_connections=3, boot_timeout=60)
    booted = admission.accepted(0)
    assert booted is not None
    admission.upgraded(booted, 0.01)
    admission.proven(booted)
    idle = admission.accepted(1)  # upgraded, never booting
    assert idle is not None
    admission.upgraded(idle, 1.01)
    handshake = admission.accepted(2)  # a handshake that never ends
    assert handshake is not None
    # Within its boot timeout the idle connection is still the one waiting longest.
    assert admission.make_room(30) is idle
    assert admission.make_room(30) is handshake
    assert admission.make_room(30) is None  # the booted one stays
    late = admission.accepted(40)
    overdue = admission.accepted(10)  # accepted before, upgraded after
    assert late is not None and overdue is not None
    admission.upgraded(overdue, 11)
    admission.upgraded(late, 41)
    # Past its boot timeout, an upgraded connection goes before anything else.
    assert admission.make_room(72) is overdue
    stats = admission.statistics()
    assert (stats.connections, stats.unproven, stats.evicted) == (2, 1, 3)


def test_past_the_handshake_limit_the_oldest_handshake_makes_room() -> None:
    admission = Admission(max_handshakes=2, max_connections=None, boot_timeout=60)
    first, second = admission.accepted(0), admission.accepted(0.5)
    assert first is not None and second is not None
    third = admission.accepted(0.6)
    assert third is not None and first.evicted and first.scope.cancel_called
    admission.closed(first)  # its handler ends: counted once
    assert admission.statistics().connections == 2
    admission.upgraded(first, 0.7)  # too late: it was closed
    assert admission.statistics().unproven == 0


def test_a_newcomer_is_refused_when_everybody_else_booted() -> None:
    admission = Admission(max_handshakes=None, max_connections=1, boot_timeout=60)
    booted = admission.accepted(0)
    assert booted is not None
    admission.upgraded(booted, 0)
    admission.proven(booted)
    newcomer = admission.accepted(1)
    assert newcomer is not None
    assert not admission.room_for(newcomer, 1)  # HTTP 503
    assert admission.statistics().refused == 1


# -- over real sockets ----------------------------------------------------------------------------


async def test_silent_sockets_filling_the_handshake_slots_do_not_keep_charge_points_out() -> None:
    async with serving(max_handshakes=20) as server, AsyncExitStack() as held:
        port = server.port

        async def hold(n: int) -> None:
            for _ in range(n):
                held.push_async_callback((await trio.open_tcp_stream("127.0.0.1", port)).aclose)

        await hold(25)  # more than the server takes, and never a byte
        served = 0
        for i in range(10):
            await hold(5)  # topped up, as an attacker reconnects
            served += await boots(port, f"CP_{i}")
        assert served == 10
        assert server.admission_statistics().evicted >= 10


async def test_a_socket_that_sends_no_request_is_closed_within_the_request_timeout() -> None:
    async with serving(request_timeout=0.5) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        with trio.fail_after(2):
            assert await stream.receive_some() == b""
        slow = await trio.open_tcp_stream("127.0.0.1", server.port)
        for byte in upgrade("CP_1"):  # a byte at a time is no better
            await slow.send_all(bytes([byte]))
            await trio.sleep(0.01)
            if not await is_open(slow):
                break
        else:
            raise AssertionError("a request dribbled over 3 s was waited for")


@pytest.mark.parametrize(
    ("request_timeout", "connect_timeout", "said"),
    [
        (0.3, 5, "no opening request within 0.3 s"),
        (5, 0.3, "no opening handshake within 0.3 s"),
        (0.3, 0.3, "no opening handshake within 0.3 s"),  # as when each had a scope: the outer
    ],
)
async def test_a_silent_socket_is_closed_at_the_earlier_limit_and_the_log_names_it(
    request_timeout: float, connect_timeout: float, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "trio_ocpp.server"):
        async with serving(
            request_timeout=request_timeout, run={"connect_timeout": connect_timeout}
        ) as server:
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            with trio.fail_after(2):
                assert await stream.receive_some() == b""
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records if "opening" in r.msg] == [
        said
    ]


async def test_requests_without_a_limit_leave_the_watchdog_nothing_to_keep() -> None:
    # The watchdog keeps each request's deadline (Ticket.alarm): with no limit at all, a
    # wake-up that never comes would be kept for as long as the server runs.
    async with (
        serving(request_timeout=math.inf, run={"connect_timeout": math.inf}) as server,
        await never_booting(server.port, "CP_1"),
    ):
        armed = [ref() for _, _, ref in server._watchdog._heap]
        assert not [ticket for ticket in armed if isinstance(ticket, Ticket)]
    async with serving() as server, await never_booting(server.port, "CP_1"):
        armed = [ref() for _, _, ref in server._watchdog._heap]
        assert [ticket for ticket in armed if isinstance(ticket, Ticket)]  # with its limit


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return tls_pair()


async def test_tls_handshakes_dribbled_a_byte_at_a_time_do_not_keep_charge_points_out(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = tls
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)  # a ClientHello's start
    async with (
        serving(ssl_context=server_context, max_handshakes=10, tls_timeout=30) as server,
        trio.open_nursery() as nursery,
    ):

        async def dribble() -> None:
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            with contextlib.suppress(trio.BrokenResourceError):  # closed to make room
                for byte in hello:
                    await stream.send_all(bytes([byte]))
                    await trio.sleep(0.2)

        for _ in range(15):
            nursery.start_soon(dribble)
        with trio.fail_after(5):
            while server.admission_statistics().handshakes < 10:
                await trio.sleep(0.01)
        assert [await boots(server.port, f"CP_{i}", client_context) for i in range(5)] == [True] * 5
        nursery.cancel_scope.cancel()


async def test_upgraded_connections_that_never_boot_make_room_for_charge_points() -> None:
    async with (
        serving(max_connections=20) as server,
        AsyncExitStack() as held,
        trio.open_nursery() as nursery,
    ):
        booted: list[str] = []

        async def stay(identity: str) -> None:
            url = f"ws://127.0.0.1:{server.port}"
            async with trio_ocpp.connect(url, v16.ChargePoint, identity=identity) as cp:
                await cp.call(BOOT)
                booted.append(identity)
                await trio.sleep_forever()

        async def boot_and_stay(identities: list[str]) -> None:
            for identity in identities:
                nursery.start_soon(stay, identity)
            with trio.fail_after(5):
                while not set(identities) <= set(booted):
                    await trio.sleep(0.01)

        await boot_and_stay([f"BOOTED_{i}" for i in range(5)])
        idle = [await never_booting(server.port, f"IDLE_{i}") for i in range(15)]
        for stream in idle:
            held.push_async_callback(stream.aclose)
        # Ten more charge points, one at a time, each taking the place of an idle one.
        for i in range(10):
            await boot_and_stay([f"NEW_{i}"])
        assert all(server.get(f"BOOTED_{i}") for i in range(5))
        assert len(server.charge_points) == 20
        # The never-booting ones went, the oldest first.
        still_open = [await is_open(stream, 0.5) for stream in idle]
        assert still_open == [False] * 10 + [True] * 5
        nursery.cancel_scope.cancel()


SERVER = """
import resource, sys, trio
from trio_ocpp import Server, v16
from trio_ocpp.routing import on
resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60))
class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs):
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=10, status="Accepted")
async def main():
    options = eval(sys.argv[1])
    server = Server(CentralSystem, charge_point_options={"ping_interval": 0}, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, "127.0.0.1", 0)
        print(server.port, flush=True)
trio.run(main)
"""


@pytest.mark.parametrize(
    "options",
    [
        {},  # max_connections from the descriptor limit
        {"max_connections": 1000},  # past the descriptor limit: accept() fails for want of them
    ],
)
async def test_never_booting_connections_at_the_descriptor_limit_make_room(
    options: dict[str, Any],
) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > 300
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", SERVER, repr(options)], stdout=-1, stderr=-1
    )
    try:
        async with AsyncExitStack() as held:
            with trio.fail_after(20):
                assert process.stdout is not None and process.stderr is not None
                port = int((await process.stdout.receive_some(100)).decode())
                for i in range(80):  # more than the server's 60 descriptors
                    try:
                        stream = await never_booting(port, f"IDLE_{i}")
                    except (AssertionError, OSError, trio.BrokenResourceError):
                        continue  # closed to make room for a newer one already
                    held.push_async_callback(stream.aclose)
                served = [await boots(port, f"CP_{i}") for i in range(10)]
            assert served == [True] * 10
            assert process.returncode is None
        process.terminate()
        await process.wait()
        log = (await process.stderr.receive_some(1 << 20)).decode()
        assert log.count("Traceback") == 0, log
    finally:
        process.kill()
        await process.wait()


def test_room_is_what_both_limits_leave() -> None:
    """What the accept loop may take at once without closing a connection (accept.py)."""
    assert Admission(None, None, 30).room() == sys.maxsize
    admission = Admission(3, 5, 30)
    assert admission.room() == 3
    tickets = [admission.accepted(0.0) for _ in range(2)]
    assert admission.room() == 1  # handshakes: 3 - 2
    for ticket in tickets:
        assert ticket is not None
        admission.upgraded(ticket, 0.0)
    assert admission.room() == 3  # connections: 5 - 2

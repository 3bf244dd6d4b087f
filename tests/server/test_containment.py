"""Nothing one connection does stops the server (CONFORMANCE 37-39), shown as a mechanism.

An exception nobody foresaw is injected at each stage of a connection's life, from accept to
close; the server must log it once with the peer's address, count it, and go on serving the
next charge point. Also: handshakes for one identity that race register exactly one connection,
connections still in their handshake are bounded, and running out of file descriptors is
survived and summed up rather than logged per accept.
"""

from __future__ import annotations

import functools
import gc
import inspect
import logging
import resource
import sys
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio

import trio_ocpp
from trio_ocpp import Server, testing, v16, v201
from trio_ocpp._transport.connection import WebSocketConnection
from trio_ocpp._transport.handshake import FastHandshake
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
BOOT = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")


class CentralSystem(v16.ChargePoint):
    running: set[CentralSystem] = set()  # noqa: RUF012  # the test's record, across instances

    async def start(self) -> None:
        CentralSystem.running.add(self)
        try:
            await super().start()
        finally:
            CentralSystem.running.discard(self)

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")


def serving(classes: Any = CentralSystem, **options: Any) -> AbstractAsyncContextManager[Server]:
    return testing.serving(classes, **options)


async def boot(server: Server, identity: str = "CP_OK", **options: Any) -> None:
    """A well-behaved charge point connects and boots."""
    with trio.fail_after(5):
        url = f"ws://127.0.0.1:{server.port}"
        async with trio_ocpp.connect(url, v16.ChargePoint, identity=identity, **options) as cp:
            assert (await cp.call(BOOT)).status == "Accepted"


def server_side(args: tuple[Any, ...]) -> bool:
    """The test's client runs on a WebSocketConnection too: inject on the server's only."""
    return not isinstance(args[0], WebSocketConnection) or args[0]._server


def once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, except that its first call on the server raises an exception nobody
    foresaw."""
    fired: list[bool] = []

    def fire(args: tuple[Any, ...]) -> None:
        if not fired and server_side(args):
            fired.append(True)
            raise RuntimeError("injected")

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            fire(args)
            return await original(*args, **kwargs)

        return wrapper

    @functools.wraps(original)
    def plain(*args: Any, **kwargs: Any) -> Any:
        fire(args)
        return original(*args, **kwargs)

    return plain


#: stage -> (module or class, attribute) whose first call raises.
STAGES: dict[str, tuple[Any, str]] = {
    "accept (reading the peer's address)": ("trio_ocpp._server.server", "_remote"),
    "reading the HTTP request": ("trio_ocpp._server.server", "read_request"),
    "negotiating the subprotocol": ("trio_ocpp._server.upgrade", "choose_version"),
    "reading the identity": ("trio_ocpp._server.upgrade", "identity_from_path"),
    "the upgrade": (FastHandshake, "accept"),  # what a charge point's request takes
    "making the ChargePoint": (CentralSystem, "__init__"),
    "running (a frame)": (CentralSystem, "route_message"),
    "sending": (WebSocketConnection, "send_message"),
    # Closed by its ChargePoint already: the server sees what is left to close.
    "closing": ("trio_ocpp._server.server", "_open"),
}


@pytest.mark.parametrize("stage", STAGES)
async def test_an_exception_at_any_stage_ends_that_connection_only(
    stage: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    owner, name = STAGES[stage]
    if isinstance(owner, str):
        owner = sys.modules[owner]
    monkeypatch.setattr(owner, name, once(getattr(owner, name)))
    with caplog.at_level(logging.ERROR, "trio_ocpp.server"):
        async with serving() as server:
            with trio.move_on_after(2):  # the victim: refused, closed or answered, never a hang
                try:
                    await boot(server, "CP_VICTIM")
                except* (trio_ocpp.HandshakeError, trio_ocpp.exceptions.ConnectionClosedError):
                    pass
            await boot(server)  # the server goes on
            await boot(server, "CP_VICTIM")  # the injection fired once: the victim is served too
            with trio.fail_after(5):
                while not server.connection_failures:
                    await trio.sleep(0.01)
    failed = [r for r in caplog.records if "connection failed" in r.getMessage()]
    assert len(failed) == 1, caplog.text
    assert failed[0].getMessage().startswith("127.0.0.1:") or stage.startswith("accept")
    assert server.connection_failures == 1


async def test_failing_checks_before_the_upgrade_are_contained() -> None:
    async def on_connect(request: trio_ocpp.ConnectionRequest) -> None:
        if request.identity == "CP_VICTIM":
            raise RuntimeError("a bug in the application's hook")

    async def check(identity: str, password: bytes) -> bool:
        if identity == "CP_VICTIM2":
            raise RuntimeError("a bug in the password store")
        return True

    async with serving(on_connect=on_connect, basic_auth=check) as server:
        for victim in ("CP_VICTIM", "CP_VICTIM2"):
            with pytest.raises(trio_ocpp.HandshakeError):
                await boot(server, victim, basic_auth="password")
        await boot(server, basic_auth="password")
        assert server.connection_failures == 2


async def test_racing_handshakes_for_one_identity_leave_one_connection() -> None:
    from helpers.peers import Peer, request  # raw handshakes, sent at once

    CentralSystem.running.clear()
    async with serving() as server:
        peers: list[Peer] = []
        async with trio.open_nursery() as nursery:

            async def handshake() -> None:
                peer = Peer(await trio.open_tcp_stream("127.0.0.1", server.port))
                await peer.stream.send_all(request("/CP_1"))
                assert (await peer.response())[0] == 101
                peers.append(peer)

            for _ in range(8):
                nursery.start_soon(handshake)
        with trio.fail_after(5):
            while len(CentralSystem.running) > 1:  # the replaced ones close
                await trio.sleep(0.01)
        (survivor,) = CentralSystem.running
        assert server.get("CP_1") is survivor  # the one served is the one registered
        closed = 0
        for peer in peers:
            with trio.move_on_after(0.5):
                got = await peer.frame()
                assert got is not None and got[0] == 0x8  # Close, 1000 "replaced"
                assert int.from_bytes(got[1][:2], "big") == trio_ocpp._core.close_codes.REPLACED
                closed += 1
            await peer.stream.aclose()
        assert closed == 7


async def test_handshakes_in_progress_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    async with serving(max_handshakes=2) as server:
        silent = [await trio.open_tcp_stream("127.0.0.1", server.port) for _ in range(2)]
        with trio.fail_after(5):
            while server.admission_statistics().handshakes < 2:
                await trio.sleep(0.01)
        newcomer = await trio.open_tcp_stream("127.0.0.1", server.port)
        with trio.fail_after(2):
            assert await silent[0].receive_some(10) == b""  # the oldest made room
        assert "closed to make room for another connection" in caplog.text
        for stream in [*silent, newcomer]:
            await stream.aclose()
        with trio.fail_after(5):
            while server.admission_statistics().connections:
                await trio.sleep(0.01)
        await boot(server)


SERVER = """
import resource, sys, trio
from trio_ocpp import Server, v16, v201
resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
async def main():
    # More connections than descriptors: accept() is what finds the limit.
    server = Server(
        v16.ChargePoint, charge_point_options={"ping_interval": 0}, max_connections=1000
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, "127.0.0.1", 0)
        print(server.port, flush=True)
trio.run(main)
"""


async def test_running_out_of_descriptors_is_survived_and_summed_up() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > 200
    process = await trio.lowlevel.open_process([sys.executable, "-c", SERVER], stdout=-1, stderr=-1)
    try:
        with trio.fail_after(20):
            assert process.stdout is not None and process.stderr is not None
            port = int((await process.stdout.receive_some(100)).decode())
            held = []
            for _ in range(60):  # more than the server's 40 descriptors
                held.append(await trio.open_tcp_stream("127.0.0.1", port))
            await trio.sleep(0.5)
            for stream in held:
                await stream.aclose()
            await trio.sleep(0.3)
            url = f"ws://127.0.0.1:{port}"
            async with trio_ocpp.connect(url, v16.ChargePoint, identity="CP_1") as cp:
                with pytest.raises(trio_ocpp.exceptions.NotSupportedError):
                    await cp.call(BOOT)  # answered: the server recovered by itself
            assert process.returncode is None
        process.terminate()
        await process.wait()
        log = (await process.stderr.receive_some(1 << 20)).decode()
        assert "out of file descriptors at" in log
        assert "closed to make room for another connection" in log
        assert log.count("Traceback") == 0, log
    finally:
        process.kill()
        await process.wait()


@pytest.mark.parametrize(
    ("path", "subprotocol", "status"),
    [
        ("/CP%0A1", "ocpp1.6", 400),  # forges log lines
        ("/CP%1B%5B31m", "ocpp1.6", 400),  # drives terminals
        ("/" + "C" * 49, "ocpp1.6", 400),  # the default policy: at most 48
        ("/CP%3A1", "ocpp2.0.1", 400),  # 2.x: the Basic-auth username has no ':'
        ("/", "ocpp1.6", 404),
    ],
)
async def test_identities_are_refused_before_the_upgrade(
    path: str, subprotocol: str, status: int
) -> None:
    from helpers.peers import Peer, request

    async with serving(classes=[CentralSystem, v201.ChargePoint]) as server:
        peer = Peer(await trio.open_tcp_stream("127.0.0.1", server.port))
        await peer.stream.send_all(request(path, Sec_WebSocket_Protocol=subprotocol))
        with trio.fail_after(5):
            assert (await peer.response())[0] == status
        await peer.stream.aclose()
        assert not server.charge_points


async def test_a_policy_admits_long_legacy_identities_in_16_only() -> None:
    from helpers.peers import Peer, request

    policy = trio_ocpp.IdentityPolicy(max_length=100)
    async with serving(classes=[CentralSystem, v201.ChargePoint], identity_policy=policy) as server:
        await boot(server, "L" * 80)  # 1.6
        peer = Peer(await trio.open_tcp_stream("127.0.0.1", server.port))
        await peer.stream.send_all(request("/" + "L" * 80, Sec_WebSocket_Protocol="ocpp2.0.1"))
        with trio.fail_after(5):
            assert (await peer.response())[0] == 400  # 2.x: 48 at most, whatever the policy
        await peer.stream.aclose()


async def test_an_ended_connection_is_not_kept_until_its_next_ping() -> None:
    # The watchdog's wake-ups must not hold connections (and their buffers) that ended: a
    # hostile peer reconnecting fast would otherwise pile them up for a ping interval.
    async with serving(charge_point_options={"ping_interval": 60}) as server:
        url = f"ws://127.0.0.1:{server.port}"
        with trio.fail_after(5):
            async with trio_ocpp.connect(url, v16.ChargePoint, identity="CP_1") as client:
                await client.call(BOOT)
                ended = weakref.ref(server.charge_points["CP_1"])
            while ended() is not None:  # its task ends, then nothing else may hold it
                gc.collect()
                await trio.sleep(0.01)

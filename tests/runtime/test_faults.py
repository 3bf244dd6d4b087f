"""Faults over real sockets (issue 7): peers that vanish mid-call, mid-handler or mid-handshake,
TCP resets, silent and hostile peers, a server cancelled under load.

Each test checks that nothing leaks (connections, tasks, file descriptors, pending calls) and
that a well-behaved bystander connection keeps getting answers throughout.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket
import wsproto
import wsproto.events
from helpers.memory_connection import MemoryConnection

from trio_ocpp import Server, exceptions, testing, v16, v21
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
HEARTBEAT = [2, "h", "Heartbeat", {}]


class CentralSystem(v16.ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handler_started = trio.Event()

    @on("Heartbeat")
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=TIME)

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str) -> v16.call_result.DataTransfer:
        if vendor_id == "hang":
            self.handler_started.set()
            await trio.sleep_forever()
        return v16.call_result.DataTransfer(status="Accepted")


# -- helpers -------------------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    """Every task alive in this trio run."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

    return count(trio.lowlevel.current_root_task())  # type: ignore[arg-type]


def open_streams(port: int) -> list[trio.SocketStream]:
    """The TCP streams of the server on ``port`` that were never closed."""
    return [
        s
        for s in gc.get_objects()
        if isinstance(s, trio.SocketStream)
        and s.socket.fileno() != -1
        and s.socket.getsockname()[1] == port
    ]


@asynccontextmanager
async def no_leaks() -> AsyncIterator[None]:
    """Whatever runs inside leaves no task and (but for a little slack) no descriptor behind."""
    tasks, fds = task_count(), open_fds()
    yield
    with trio.fail_after(5):
        while task_count() > tasks:
            await trio.sleep(0.01)
    # trio-websocket's client leaves the socket of a connection that the server closed to the
    # garbage collector; the server's own sockets are checked by serving().
    gc.collect()
    assert open_fds() <= fds + 2


@asynccontextmanager
async def serving(
    websocket_options: Mapping[str, Any] | None = None, **options: Any
) -> AsyncIterator[Server]:
    async with testing.serving(CentralSystem, run=websocket_options, **options) as server:
        yield server
        port = server.port
    assert not server.charge_points
    assert not open_streams(port)


async def ask(ws: trio_websocket.WebSocketConnection, frame: list[Any]) -> list[Any]:
    await ws.send_message(json.dumps(frame))
    with trio.fail_after(5):
        return json.loads(await ws.get_message())  # type: ignore[no-any-return]


async def connected(server: Server, identity: str) -> CentralSystem:
    with trio.fail_after(5):
        while identity not in server.charge_points:
            await trio.sleep(0.001)
    cp = server.charge_points[identity]
    assert isinstance(cp, CentralSystem)
    return cp


async def gone(server: Server, identity: str) -> None:
    with trio.fail_after(5):
        while identity in server.charge_points:
            await trio.sleep(0.001)


@asynccontextmanager
async def bystander(server: Server) -> AsyncIterator[None]:
    """A well-behaved charge point that keeps asking, and must keep being answered."""
    answers = 0
    async with (
        trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{server.port}/BYSTANDER", subprotocols=["ocpp1.6"]
        ) as ws,
        trio.open_nursery() as nursery,
    ):

        async def keep_asking() -> None:
            nonlocal answers
            while True:
                assert await ask(ws, HEARTBEAT) == [3, "h", {"currentTime": TIME}]
                answers += 1
                await trio.sleep(0.005)

        nursery.start_soon(keep_asking)
        yield
        before = answers
        with trio.fail_after(5):
            while answers == before:  # still answered after the fault
                await trio.sleep(0.005)
        nursery.cancel_scope.cancel()


class RawPeer:
    """A WebSocket client on a TCP stream of its own, so that it can misbehave at any point."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)

    @classmethod
    async def connect(cls, server: Server) -> RawPeer:
        return cls(await trio.open_tcp_stream("127.0.0.1", server.port))

    def upgrade_request(self, identity: str) -> bytes:
        request = wsproto.events.Request(
            host="localhost", target=f"/{identity}", subprotocols=["ocpp1.6"]
        )
        return self.ws.send(request)

    async def handshake(self, identity: str = "CP_1") -> None:
        await self.stream.send_all(self.upgrade_request(identity))
        with trio.fail_after(5):
            while not any(isinstance(e, wsproto.events.AcceptConnection) for e in self.events()):
                self.ws.receive_data(await self.stream.receive_some())

    def events(self) -> list[wsproto.events.Event]:
        return list(self.ws.events())

    async def send(self, message: str | bytes) -> None:
        event = (
            wsproto.events.TextMessage(message)
            if isinstance(message, str)
            else wsproto.events.BytesMessage(message)
        )
        await self.stream.send_all(self.ws.send(event))

    async def receive(self) -> list[wsproto.events.Event]:
        """The WebSocket events in the next bytes that arrive; [] once the server closed TCP."""
        data = await self.stream.receive_some()
        if not data:
            return []
        self.ws.receive_data(data)
        return self.events()

    async def reset(self) -> None:
        """Abort the TCP connection: SO_LINGER 0, so that closing sends RST instead of FIN."""
        self.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self.stream.aclose()

    async def wait_tcp_closed(self, timeout: float = 5) -> None:
        with trio.fail_after(timeout):
            while await self.stream.receive_some():
                pass


async def hang_up(peer: RawPeer, how: str) -> None:
    if how == "reset":
        await peer.reset()
    else:  # FIN without a WebSocket close frame
        await peer.stream.aclose()


# -- peers that do not play along with a close -----------------------------------------------------


async def test_a_half_open_connection_does_not_hold_up_its_replacement() -> None:
    options = {"ping_interval": 0, "send_timeout": 0.2}
    async with no_leaks(), serving(charge_point_options=options) as server:
        silent = await RawPeer.connect(server)
        await silent.handshake("CP_1")  # then neither reads nor answers the close: half-open
        old = await connected(server, "CP_1")
        async with trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{server.port}/CP_1", subprotocols=["ocpp1.6"]
        ) as ws:
            # The new connection is served once the old one's close gave up after send_timeout.
            with trio.fail_after(2):
                assert (await ask(ws, HEARTBEAT))[0] == 3
            assert server.charge_points["CP_1"] is not old
        await silent.stream.aclose()


async def test_a_flooding_peer_that_ignores_the_close_is_dropped() -> None:
    options = {"ping_interval": 0, "send_timeout": 0.2, "max_invalid_frames": 3}
    async with no_leaks(), serving(charge_point_options=options) as server, bystander(server):
        peer = await RawPeer.connect(server)
        await peer.handshake()
        await connected(server, "CP_1")
        for _ in range(3):
            await peer.send("junk")
        # It never reads the close frame, let alone answers it: dropped all the same.
        await gone(server, "CP_1")
        await peer.wait_tcp_closed()
        await peer.stream.aclose()


async def test_a_ping_during_the_close_handshake_does_not_stop_the_server() -> None:
    options = {"ping_interval": 0, "max_invalid_frames": 1}
    async with serving(charge_point_options=options) as server:
        peer = await RawPeer.connect(server)
        await peer.handshake()
        await peer.send("junk")  # answered, then the server closes with 1002
        with trio.fail_after(5):
            while not any(
                isinstance(e, wsproto.events.CloseConnection) for e in await peer.receive()
            ):
                pass
        # The server now waits for our close frame; a (masked, empty) ping comes instead.
        await peer.stream.send_all(b"\x89\x80\x00\x00\x00\x00")
        await trio.sleep(0.1)
        async with trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{server.port}/CP_2", subprotocols=["ocpp1.6"]
        ) as ws:
            assert (await ask(ws, HEARTBEAT))[0] == 3
        await peer.stream.aclose()


# -- peers that vanish -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_peer_gone_mid_call_fails_the_call_at_once(how: str) -> None:
    async with no_leaks(), serving() as server, bystander(server):
        peer = await RawPeer.connect(server)
        await peer.handshake()
        cp = await connected(server, "CP_1")
        async with trio.open_nursery() as nursery:

            async def vanish_once_called() -> None:
                while not any(
                    isinstance(e, wsproto.events.TextMessage) for e in await peer.receive()
                ):
                    pass
                await hang_up(peer, how)

            nursery.start_soon(vanish_once_called)
            with trio.fail_after(2), pytest.raises(exceptions.ConnectionClosedError):
                await cp.call(v16.call.DataTransfer(vendor_id="v"))  # response_timeout is 30 s
        assert cp.statistics().calls_pending == 0
        await gone(server, "CP_1")


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_peer_gone_mid_handler_cancels_it_and_reports_the_lost_answer(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with no_leaks(), serving() as server, bystander(server):
        peer = await RawPeer.connect(server)
        await peer.handshake()
        await peer.send(json.dumps([2, "1", "DataTransfer", {"vendorId": "hang"}]))
        cp = await connected(server, "CP_1")
        with trio.fail_after(5):
            await cp.handler_started.wait()
        await hang_up(peer, how)
        await gone(server, "CP_1")
        assert cp.statistics().handlers_running == 0
    assert "CP_1: the answer to DataTransfer (1) is lost" in caplog.text


@pytest.mark.parametrize(
    ("stage", "identity"),
    [
        ("before the request", "CP_1"),
        ("mid-request", "CP_1"),
        ("after the request", "CP_1"),
        ("reset after the request", "CP_1"),
        ("reset after the request", ""),  # refused: 404
    ],
)
async def test_peer_gone_mid_handshake(stage: str, identity: str) -> None:
    async with no_leaks(), serving() as server, bystander(server):
        for _ in range(3):
            peer = await RawPeer.connect(server)
            request = peer.upgrade_request(identity)
            if stage == "mid-request":
                await peer.stream.send_all(request[: len(request) // 2])
            elif stage != "before the request":
                await peer.stream.send_all(request)
            await hang_up(peer, "reset" if stage.startswith("reset") else "close")
        with trio.fail_after(5):
            while server.charge_points.keys() - {"BYSTANDER"}:
                await trio.sleep(0.01)


async def test_handshake_timeout_drops_a_peer_that_never_upgrades() -> None:
    async with no_leaks(), serving(websocket_options={"connect_timeout": 0.3}) as server:
        async with bystander(server):
            silent = await RawPeer.connect(server)  # TCP only, never an HTTP request
            slow = await RawPeer.connect(server)
            request = slow.upgrade_request("CP_1")
            await slow.stream.send_all(request[:20])  # a request that never ends
            start = trio.current_time()
            await silent.wait_tcp_closed()
            await slow.wait_tcp_closed()
            assert 0.25 <= trio.current_time() - start < 2  # the timer started at accept()
        await silent.stream.aclose()
        await slow.stream.aclose()


async def test_binary_messages_are_counted_invalid_and_never_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = {"ping_interval": 0, "max_invalid_frames": 3}
    async with (
        serving(charge_point_options=options) as server,
        trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{server.port}/CP_1", subprotocols=["ocpp1.6"]
        ) as ws,
    ):
        await ws.send_message(json.dumps(HEARTBEAT).encode())
        await ws.send_message(b"\xff\x00")
        # The next message is the answer to the next CALL: the binary ones got none.
        assert (await ask(ws, HEARTBEAT))[0] == 3
        cp = await connected(server, "CP_1")
        assert cp.statistics().invalid_frames == 2
        for _ in range(3):  # and they count towards the limit of CONFORMANCE 25
            await ws.send_message(b"[]")
        with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None and info.value.reason.code == 1002
    assert "CP_1: invalid frame (binary WebSocket message)" in caplog.text


async def test_server_cancelled_under_load_stops_promptly_and_leaves_nothing() -> None:
    answered = 0
    async with no_leaks(), trio.open_nursery() as clients:
        async with serving() as server:

            async def keep_calling(identity: str) -> None:
                nonlocal answered
                url = f"ws://127.0.0.1:{server.port}/{identity}"
                try:
                    async with trio_websocket.open_websocket_url(
                        url, subprotocols=["ocpp1.6"]
                    ) as ws:
                        while True:
                            await ws.send_message(json.dumps(HEARTBEAT))
                            await ws.send_message("junk")
                            assert json.loads(await ws.get_message())[0] == 3
                            assert json.loads(await ws.get_message())[:2] == [4, "-1"]
                            answered += 1
                except trio_websocket.ConnectionClosed as closed:
                    assert closed.reason is not None and closed.reason.code == 1001  # going away

            for i in range(50):
                clients.start_soon(keep_calling, f"CP_{i}")
            with trio.fail_after(5):
                while len(server.charge_points) < 50 or answered < 500:
                    await trio.sleep(0.01)
            start = trio.current_time()
            # Leaving the block cancels the server with every connection busy.
        # Within the 2 s the server gives each connection's close handshake, and then some.
        assert trio.current_time() - start < 4
        assert not server.charge_points


# -- in memory: what the socket cannot pin down ----------------------------------------------------


async def test_an_answer_cancelled_on_its_way_out_is_reported_lost(
    autojump_clock: trio.testing.MockClock,  # the send that cannot finish times out (10 s)
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = MemoryConnection()
    connection.reading = trio.Event()  # the peer stopped reading: the answer cannot go out
    cp = CentralSystem("CP_1", connection, ping_interval=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([2, "1", "Heartbeat", {}]))
        await trio.testing.wait_all_tasks_blocked()
        connection.hang_up()  # the connection ends while the answer is being sent
    assert "CP_1: the answer to Heartbeat (1) is lost" in caplog.text


@pytest.mark.parametrize(
    ("options", "answered_after"),
    [({"handler_timeout": 5}, 5), ({}, 60), ({"handler_timeout": None}, None)],
    ids=["5 s", "default 60 s", "no limit"],
)
async def test_a_hung_handler_is_cancelled_and_answered_with_internal_error(
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    answered_after: float | None,
) -> None:
    connection = MemoryConnection()
    cp = CentralSystem("CP_1", connection, ping_interval=0, **options)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([2, "1", "DataTransfer", {"vendorId": "hang"}]))
        connection.deliver(json.dumps(HEARTBEAT))
        await trio.sleep((answered_after or 3600) - 0.1)
        assert [json.loads(f)[1] for f in connection.sent()] == ["h"]  # others are served
        await trio.sleep(0.2)
        if answered_after is None:
            assert connection.sent() == []
            assert cp.statistics().handlers_running == 1
        else:
            timeout_error = [4, "1", "InternalError", "The request was not handled in time", {}]
            assert [json.loads(f) for f in connection.sent()] == [timeout_error]
            assert cp.statistics().handlers_running == 0
            assert f"handler of DataTransfer (1) did not finish within {answered_after} s" in (
                caplog.text
            )
        connection.hang_up()


async def test_the_send_timeout_counts_from_the_last_frame_that_went_out(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    connection = MemoryConnection()
    cp = CentralSystem("CP_1", connection, ping_interval=0, send_timeout=10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        # The first Heartbeat finds its route; then the reader answers them one by one.
        connection.deliver(json.dumps(HEARTBEAT))
        await trio.sleep(100)  # idle: nothing is being sent, nothing times out
        assert len(connection.sent()) == 1
        connection.send_delay = 6  # a slow peer: 18 s of answers, but each within 10 s
        for n in range(3):
            connection.deliver(json.dumps([2, str(n), "Heartbeat", {}]))
        await trio.sleep(18.5)
        assert [json.loads(f)[1] for f in connection.sent()] == ["0", "1", "2"]
        assert connection.close_code is None
        connection.reading = trio.Event()  # now the peer stops reading
        connection.deliver(json.dumps(HEARTBEAT))
        await trio.sleep(9.9)
        assert connection.close_code is None
        await trio.sleep(0.2)
        assert connection.close_code == 1011
    assert "CP_1: no frame went out in 10 s, closing the connection" in caplog.text


async def test_a_ping_due_while_a_frame_goes_out_follows_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pings: list[float] = []

    class Pinged(MemoryConnection):
        async def ping(self) -> None:  # the pong comes at once
            pings.append(trio.current_time())

    connection = Pinged()
    cp = CentralSystem("CP_1", connection, ping_interval=5, send_timeout=10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        await trio.sleep(4.9)
        connection.send_delay = 1  # the answer is going out when the ping falls due
        connection.deliver(json.dumps(HEARTBEAT))
        await trio.sleep(5)
        # Right after the frame, not when its send timeout would have run out.
        assert pings == [pytest.approx(5.9)]
        connection.hang_up()


async def test_a_hung_send_handler_is_cancelled(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Streams(v21.ChargePoint):
        @on("NotifyPeriodicEventStream", skip_schema_validation=True)
        async def on_stream(self, **kwargs: Any) -> None:
            await trio.sleep_forever()

    connection = MemoryConnection()
    cp = Streams("CP_1", connection, ping_interval=0, handler_timeout=5)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        connection.deliver(json.dumps([6, "s", "NotifyPeriodicEventStream", {}]))
        await trio.sleep(6)
        assert "handler of SEND NotifyPeriodicEventStream (s) did not finish within 5 s" in (
            caplog.text
        )
        assert connection.sent() == []  # a SEND is never answered, not even now
        connection.hang_up()

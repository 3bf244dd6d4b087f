"""RFC 6455 on the wire (CONFORMANCE 35-36): raw bytes through real sockets to a real Server.

Each test writes the frames a broken or hostile peer would, byte by byte, and reads what the
server sends back: a Close frame with the right code before the TCP close, the right HTTP
status for a bad opening handshake, and frames that came with the handshake processed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing
from helpers.peers import (
    BOOT,
    CLOSE,
    CONT,
    KEY,
    MAX_MESSAGE,
    PING,
    PONG,
    TEXT,
    Peer,
    frame,
    opened,
    raw,
    request,
    serving,
    text,
)

from trio_ocpp._transport.connection import (
    ConnectionClosed,
    WebSocketConnection,
    server_text_frame,
)

PROTOCOL_ERRORS = {
    "unmasked client frame": frame(TEXT, b"[]", mask=False),
    "reserved bit 1": frame(TEXT, b"[]", rsv=4),
    "reserved bit 3": frame(TEXT, b"[]", rsv=1),
    "unknown data opcode": frame(0x3, b"x"),
    "unknown control opcode": frame(0xB),
    "fragmented ping": frame(PING, b"x", fin=False),
    "ping longer than 125 bytes": frame(PING, b"x" * 126),
    "close longer than 125 bytes": frame(CLOSE, struct.pack("!H", 1000) + b"x" * 124),
    "continuation without a start": frame(CONT, b"x"),
    "new message inside a fragmented one": frame(TEXT, b"[", fin=False) + frame(TEXT, b"]"),
    "1-byte close payload": frame(CLOSE, b"\x03"),
    "close code 999": frame(CLOSE, struct.pack("!H", 999)),
    "close code 1005 (reserved)": frame(CLOSE, struct.pack("!H", 1005)),
    "close code 1016 (unassigned)": frame(CLOSE, struct.pack("!H", 1016)),
}


@pytest.mark.parametrize("data", PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
async def test_a_protocol_error_gets_close_1002_then_the_tcp_close(data: bytes) -> None:
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(data)
        assert await peer.close_code() == 1002
        with trio.fail_after(5):
            while "CP_1" in server.charge_points:
                await trio.sleep(0.01)


INVALID_TEXT = {
    "invalid UTF-8": frame(TEXT, b'["\xff"]'),
    "a lone surrogate encoded": frame(TEXT, b'["\xed\xa0\x80"]'),
    "invalid across fragments": frame(TEXT, b'["\xe2\x82', fin=False) + frame(CONT, b'"]'),
    "close reason not UTF-8": frame(CLOSE, struct.pack("!H", 1000) + b"\xff"),
}


@pytest.mark.parametrize("data", INVALID_TEXT.values(), ids=INVALID_TEXT.keys())
async def test_text_that_is_not_utf8_gets_1007(data: bytes) -> None:
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(data)
        assert await peer.close_code() == 1007


async def test_utf8_split_across_fragments_is_one_message() -> None:
    boot = [2, "e1", "BootNotification", {"chargePointVendor": "€", "chargePointModel": "M"}]
    data = json.dumps(boot, ensure_ascii=False).encode()
    cut = data.index("€".encode()) + 1  # inside the euro sign's three bytes
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(frame(TEXT, data[:cut], fin=False))
        await peer.stream.send_all(frame(PING, b"between") + frame(CONT, data[cut:]))
        with trio.fail_after(5):
            assert await peer.frame() == (PONG, b"between")
        assert (await peer.answer())[:2] == [3, "e1"]


TOO_BIG = {
    "one frame": frame(TEXT, b" " * (MAX_MESSAGE + 1)),
    "in fragments": b"".join(frame(CONT if i else TEXT, b" " * 100, fin=False) for i in range(11)),
    "a frame header announcing 2**62 bytes": bytes([0x81, 0xFF]) + struct.pack("!Q", 2**62),
}


@pytest.mark.parametrize("data", TOO_BIG.values(), ids=TOO_BIG.keys())
async def test_a_message_over_the_size_limit_gets_1009(data: bytes) -> None:
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(data)
        assert await peer.close_code() == 1009


async def test_an_unfinished_message_holds_no_more_than_the_size_limit() -> None:
    async with serving() as server, opened(server) as peer:
        # Empty continuations cost nothing; one-byte ones add up to the limit, then 1009.
        await peer.stream.send_all(frame(TEXT, b"[", fin=False) + frame(CONT, fin=False) * 2000)
        with trio.fail_after(5):
            while "CP_1" not in server.charge_points:
                await trio.sleep(0.01)
        ws = server.charge_points["CP_1"].connection
        await peer.stream.send_all(frame(PING, b"sync"))
        with trio.fail_after(5):
            assert await peer.frame() == (PONG, b"sync")
        assert ws._fragments == b"["
        await peer.stream.send_all(frame(CONT, b" ", fin=False) * (MAX_MESSAGE + 1))
        assert await peer.close_code() == 1009
        assert ws._fragments is None or len(ws._fragments) <= MAX_MESSAGE + 1


async def test_the_peers_close_is_echoed_with_its_code() -> None:
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(frame(CLOSE, struct.pack("!H", 4001) + b"bye"))
        assert await peer.close_code() == 4001


async def test_pings_are_answered_with_their_payload() -> None:
    async with serving() as server, opened(server) as peer:
        await peer.stream.send_all(frame(PING, b"a") + text(BOOT) + frame(PING, b"b"))
        with trio.fail_after(5):
            got = [await peer.frame() for _ in range(3)]
        # The pongs go out as the pings are read, before the answer to what came between.
        assert got[:2] == [(PONG, b"a"), (PONG, b"b")]
        assert got[2] is not None and json.loads(got[2][1])[:2] == [3, "b1"]


async def test_a_message_sent_with_the_handshake_is_answered() -> None:
    # A charge point may pipeline its BootNotification in the handshake's segment.
    async with serving() as server, raw(server, request() + text(BOOT) + frame(PING, b"p")) as peer:
        with trio.fail_after(5):
            assert (await peer.response())[0] == 101
            assert await peer.frame() == (PONG, b"p")
            assert (await peer.answer())[:2] == [3, "b1"]


BAD_KEYS = {
    "missing": request(Sec_WebSocket_Key=""),
    "not base64": request(Sec_WebSocket_Key="not base64!!"),
    "15 bytes": request(Sec_WebSocket_Key=base64.b64encode(b"x" * 15).decode()),
    "17 bytes": request(Sec_WebSocket_Key=base64.b64encode(b"x" * 17).decode()),
    "twice": request().replace(b"\r\n\r\n", f"\r\nSec-WebSocket-Key: {KEY}\r\n\r\n".encode()),
}


@pytest.mark.parametrize("handshake", BAD_KEYS.values(), ids=BAD_KEYS.keys())
async def test_a_bad_sec_websocket_key_gets_400(handshake: bytes) -> None:
    async with serving() as server, raw(server, handshake) as peer:
        with trio.fail_after(5):
            assert (await peer.response())[0] == 400
            assert await peer.frame() is None
        assert not server.charge_points


async def test_another_websocket_version_gets_426_naming_ours() -> None:
    async with serving() as server, raw(server, request(Sec_WebSocket_Version="8")) as peer:
        with trio.fail_after(5):
            status, headers = await peer.response()
        assert (status, headers["sec-websocket-version"]) == (426, "13")


async def test_permessage_deflate_is_not_negotiated() -> None:
    offer = request(Sec_WebSocket_Extensions="permessage-deflate; client_max_window_bits")
    async with serving() as server, raw(server, offer) as peer:
        with trio.fail_after(5):
            status, headers = await peer.response()
        assert status == 101 and "sec-websocket-extensions" not in headers


async def test_a_peer_flooding_pings_without_reading_is_cut_by_send_timeout() -> None:
    async with serving(charge_point_options={"send_timeout": 1, "ping_interval": 0}) as server:
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast
        await sock.connect(("127.0.0.1", server.port))
        stream = trio.SocketStream(sock)
        peer = Peer(stream)
        await stream.send_all(request())
        assert (await peer.response())[0] == 101
        ping = frame(PING, b"x" * 125) * 64
        started = trio.current_time()
        with trio.move_on_after(10):
            while "CP_1" not in server.charge_points:
                await trio.sleep(0.01)
            async with trio.open_nursery() as nursery:

                async def flood() -> None:
                    with contextlib.suppress(trio.BrokenResourceError):  # the server cut us
                        while True:
                            await stream.send_all(ping)

                nursery.start_soon(flood)
                while "CP_1" in server.charge_points:
                    await trio.sleep(0.05)
                nursery.cancel_scope.cancel()
        took = trio.current_time() - started
        assert "CP_1" not in server.charge_points
        assert took < 5, f"a ping flood was cut after {took:.1f} s, not send_timeout (1 s)"
        await trio.aclose_forcefully(stream)


async def test_server_text_frames_are_websockets_own() -> None:
    from websockets.frames import Frame, Opcode

    for n in (0, 1, 125, 126, 65535, 65536, 70000):
        payload = b"x" * n
        assert server_text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


@contextlib.asynccontextmanager
async def upgraded() -> AsyncIterator[tuple[trio.SocketStream, WebSocketConnection]]:
    """A client's raw stream and the server's connection it opened, over a real socket; the
    101 is still to go out (with the server's first read)."""
    from trio_ocpp._transport.handshake import read_request

    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        port = listener.socket.getsockname()[1]
        async with await trio.open_tcp_stream("127.0.0.1", port) as client:
            await client.send_all(request())
            stream = await listener.accept()
            handshake = await read_request(stream, 1000)
            assert handshake is not None
            yield client, handshake.accept(handshake.check("ocpp1.6"), "peer")
        await stream.aclose()


async def test_two_tasks_reading_at_once_share_what_one_reads() -> None:
    # A ChargePoint's reader and aclose() (a replaced connection) may both wait for the peer,
    # right after the upgrade too, while the 101 is still going out: one reads, both see it.
    got: list[Any] = []
    async with upgraded() as (client, ws):

        async def read() -> None:
            try:
                got.append(await ws.get_message())
            except ConnectionClosed as closed:
                got.append(closed.code)

        peer = Peer(client)
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                nursery.start_soon(read)
                assert (await peer.response())[0] == 101
                await client.send_all(text([2, "1", "Heartbeat", {}]))
                await client.send_all(frame(CLOSE, struct.pack("!H", 1000)))
    assert sorted(map(str, got)) == ["1000", '[2, "1", "Heartbeat", {}]']


async def test_closing_a_closed_connection_again_returns_at_once() -> None:
    # Every way out of a connection (the reader, the runtime, the client, the server) closes
    # it: after the first, the others neither wait nor checkpoint.
    async with upgraded() as (client, ws):
        peer = Peer(client)
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.aclose, 1001)
                assert (await peer.response())[0] == 101
                await client.send_all(frame(CLOSE, struct.pack("!H", 1001)))
        with trio.testing.assert_no_checkpoints():
            await ws.aclose()
            await ws.aclose(1011)
        assert ws.closed is not None and ws.closed.code == 1001


@pytest.mark.parametrize("apart", [False, True], ids=["one read", "a read each"])
async def test_a_close_inside_a_fragmented_message_is_answered_with_its_code(apart: bool) -> None:
    # RFC 6455 5.4: control frames may come between fragments. A Close ends the connection with
    # the message unfinished; websockets' protocol alone fails it with 1002 (Autobahn 7.1.5).
    frames = [
        frame(TEXT, b"fragment1", fin=False),
        frame(CLOSE, struct.pack("!H", 1000)),
        frame(CONT, b"fragment2"),
    ]
    async with serving() as server, opened(server) as peer:
        for data in frames if apart else [b"".join(frames)]:
            await peer.stream.send_all(data)
            if apart:
                await trio.sleep(0.05)
        assert await peer.close_code() == 1000

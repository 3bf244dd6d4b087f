"""Raw WebSocket peers of a real server: frames as a client writes them, the opening request,
a peer that reads the server's answer and frames, and a server to talk to (``serving``)."""

from __future__ import annotations

import base64
import json
import os
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio
import trustme
from websockets.utils import apply_mask

from trio_ocpp import Server, testing, v16
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
KEY = base64.b64encode(b"0123456789abcdef").decode()
BOOT = [2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
MAX_MESSAGE = 1000


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")


def serving(
    max_message_size: int = MAX_MESSAGE, **options: Any
) -> AbstractAsyncContextManager[Server]:
    return testing.serving(CentralSystem, run={"max_message_size": max_message_size}, **options)


def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server's TLS context, and a client's that trusts it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    key: bytes | None = None,
) -> bytes:
    """One frame as a client writes it (masked unless ``mask=False``, with a random ``key``
    unless one is given)."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = key or os.urandom(4)
    return head + key + apply_mask(payload, key)


def text(message: Any) -> bytes:
    return frame(TEXT, json.dumps(message).encode())


def request(path: str = "/CP_1", **headers: str) -> bytes:
    fields = {
        "Host": "localhost",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": "ocpp1.6",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items() if v)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Peer:
    """A raw client: bytes out, the server's HTTP answer and frames in."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        self.buffer += data
        return bool(data)

    async def response(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            if not await self._fill():
                raise EOFError("no HTTP response")
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        body = int(headers.get("content-length", "0"))
        while len(self.buffer) < body:
            await self._fill()
        del self.buffer[:body]
        return int(status.split()[1]), headers

    async def frame(self) -> tuple[int, bytes] | None:
        """The next frame from the server (opcode, payload); None at the TCP close."""
        while True:
            if len(self.buffer) >= 2:
                n = self.buffer[1] & 0x7F
                start = 2 + {126: 2, 127: 8}.get(n, 0)
                if len(self.buffer) >= start:
                    if n >= 126:
                        n = int.from_bytes(self.buffer[2:start], "big")
                    if len(self.buffer) >= start + n:
                        opcode = self.buffer[0] & 0x0F
                        payload = bytes(self.buffer[start : start + n])
                        del self.buffer[: start + n]
                        return opcode, payload
            if not await self._fill():
                return None

    async def close_code(self) -> int:
        """Read up to the server's Close frame: its code; then the TCP connection must end."""
        with trio.fail_after(5):
            while True:
                got = await self.frame()
                assert got is not None, "TCP closed without a Close frame"
                if got[0] == CLOSE:
                    (code,) = struct.unpack("!H", got[1][:2])
                    assert await self.frame() is None  # and then the TCP close
                    return int(code)

    async def answer(self) -> list[Any]:
        with trio.fail_after(5):
            got = await self.frame()
        assert got is not None and got[0] == TEXT
        return json.loads(got[1])  # type: ignore[no-any-return]


@asynccontextmanager
async def raw(server: Server, handshake: bytes | None = None) -> AsyncIterator[Peer]:
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        peer = Peer(stream)
        if handshake is not None:
            await stream.send_all(handshake)
        yield peer


async def upgraded(
    port: int, path: str = "/CP_1", tls: ssl.SSLContext | None = None, data: bytes = b""
) -> Peer:
    """A peer whose opening request, and ``data`` in the same write, got a 101."""
    stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", port)
    if tls is not None:
        # The server ends with the TCP close (RFC 6455), no TLS close_notify.
        stream = trio.SSLStream(stream, tls, server_hostname="127.0.0.1", https_compatible=True)
    await stream.send_all(request(path) + data)
    peer = Peer(stream)
    with trio.fail_after(5):
        assert (await peer.response())[0] == 101
    return peer


@asynccontextmanager
async def opened(server: Server) -> AsyncIterator[Peer]:
    async with raw(server, request()) as peer:
        with trio.fail_after(5):
            status, headers = await peer.response()
        assert status == 101 and headers["sec-websocket-protocol"] == "ocpp1.6"
        yield peer


KiB, MiB = 2**10, 2**20


async def synced(peer: Peer) -> None:
    """The server has read everything sent before: it answered a ping sent after it."""
    await peer.stream.send_all(frame(PING, b"sync"))
    with trio.fail_after(5):
        assert await peer.frame() == (PONG, b"sync")

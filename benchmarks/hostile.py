"""The hostile peers of ``python -m benchmarks.attack``: one coroutine per class of attack.

Each class is ``async def attack(target, sent)``: it runs until cancelled, against the server
``target`` names, and counts in ``sent`` the hostile connections or frames it sent. Classes of
rounds (a handful of attackers, each doing one thing over and over) are made with
:func:`rounds`; classes that hold many sockets at once manage them themselves.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .loadgen import masked_frame

HOST = "127.0.0.1"
#: The address that the classes whose requests fail Basic auth connect from (loopback has all of
#: 127/8): the throttle slows identities never seen before that come from a guesser's address
#: (it cannot tell them from the guesser's next tries), and the classes after them would measure
#: that instead of what they attack.
GUESSER = "127.0.0.2"
PASSWORD = "correct horse battery staple"
KEY = base64.b64encode(b"0123456789abcdef").decode()
#: Identities the attackers hold credentials for (``held_`` ones: one per connection held).
ATTACKER = "EVIL"
HELD = [f"HELD_{i}" for i in range(2200)]
#: What breaks when the server hangs up on an attacker: that is its answer.
HUNG_UP = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


@attrs.define
class Target:
    """The server under attack."""

    port: int
    #: The TLS server's port and a context that trusts it, for the attacks over TLS.
    tls_port: int | None = None
    tls: ssl.SSLContext | None = None
    #: The cluster's Redis, when the server is a node with an event stream.
    redis_url: str | None = None


class Tally:
    """What the attackers of one class sent: counted as it goes out."""

    def __init__(self) -> None:
        self.n = 0
        #: What a class found out besides (victim events kept, Redis memory...).
        self.findings: dict[str, Any] = {}

    def add(self, n: int = 1) -> None:
        self.n += n


Attack = Callable[[Target, Tally], Awaitable[None]]


def auth(identity: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()


def request(
    target: str, subprotocol: str = "ocpp1.6", identity: str = ATTACKER, **headers: str
) -> bytes:
    fields = {
        "Host": HOST,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": subprotocol,
        "Authorization": auth(identity),
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode("latin-1", "surrogateescape") + b"\r\n"


def unmasked_key_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame masked with the key 0000: valid (RFC 6455 lets a client pick any key) and
    free to make, even for a mebibyte."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 65536:
        length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return bytes([first]) + length + b"\0\0\0\0" + payload


class Raw:
    """An attacker's connection: bytes out, whatever comes back read and thrown away."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream

    @classmethod
    async def open(
        cls, port: int, handshake: bytes | None = None, source: str | None = None
    ) -> Raw:
        raw = cls(await trio.open_tcp_stream(HOST, port, local_address=source))
        try:
            if handshake is not None:
                await raw.stream.send_all(handshake)
                await raw.read()  # the HTTP answer (and maybe more)
        except BaseException:
            await raw.aclose()  # cancelled too: a socket left open would hold a server's slot
            raise
        return raw

    async def read(self, seconds: float = 2) -> bytes:
        with trio.move_on_after(seconds):
            return await self.stream.receive_some(65536)
        return b""

    async def send(self, text: str | bytes) -> None:
        await self.stream.send_all(masked_frame(text) if isinstance(text, str) else text)

    async def until_closed(self, seconds: float = math.inf) -> None:
        """Read and drop whatever comes until the server hangs up (or ``seconds`` passed)."""
        with trio.move_on_after(seconds), contextlib.suppress(*HUNG_UP):
            while await self.stream.receive_some(65536):
                pass

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


async def upgraded(port: int, subprotocol: str = "ocpp1.6", identity: str = ATTACKER) -> Raw:
    return await Raw.open(port, request(f"/{identity}", subprotocol, identity))


def rounds(one: Callable[[int, Tally], Awaitable[None]], attackers: int) -> Attack:
    """A class of ``attackers`` peers doing ``one`` round of it after another."""

    async def attack(target: Target, sent: Tally) -> None:
        async def attacker() -> None:
            while True:
                with contextlib.suppress(*HUNG_UP):
                    await one(target.port, sent)
                await trio.sleep(0)

        async with trio.open_nursery() as nursery:
            for _ in range(attackers):
                nursery.start_soon(attacker)

    return attack


# -- rounds: issue 12's classes -------------------------------------------------------------------


async def bad_targets(port: int, sent: Tally) -> None:
    for target in ("//[x/CP_1", "/%ff%fe/CP", "/" + "a" * 9000, "http://[::1/x"):
        sent.add()
        raw = await Raw.open(port, request(target), source=GUESSER)
        await raw.aclose()


async def non_ascii_headers(port: int, sent: Tally) -> None:
    for name in ("Sec-WebSocket-Protocol", "Connection", "Sec-WebSocket-Extensions", "Host"):
        head = request("/EVIL").replace(f"{name}: ".encode(), f"{name}: \xff\xfe".encode())
        sent.add()
        raw = await Raw.open(port, head, source=GUESSER)
        await raw.aclose()


async def connect_reset(port: int, sent: Tally) -> None:
    sock = trio.socket.socket()
    await sock.connect((HOST, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an RST before any request
    sent.add()


async def surrogates(port: int, sent: Tally) -> None:
    raw = await upgraded(port, "ocpp2.0.1")
    frames = [
        r'[2,"\ud800","Heartbeat",{}]',
        r'[2,"a1","Heart\ud800beat",{}]',
        r'[2,"a2","Heartbeat",{"\ud800":1}]',
        r'[2,"a3","BootNotification",{"reason":"\udfff","chargingStation":{}}]',
    ]
    for text in frames:
        await raw.send(text)
        sent.add()
        await raw.read(1)
    await raw.aclose()


def _meter_values(size: int, sample: dict[str, Any], connector: int = 1) -> str:
    per = len(json.dumps(sample)) + 1
    payload = {
        "connectorId": connector,
        "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": [sample] * (size // per)}],
    }
    return json.dumps([2, "mv", "MeterValues", payload])


TIMESTAMP = "2024-01-01T00:00:00Z"
BIG_INVALID = _meter_values(1_000_000, {"value": 1, "unit": "bogus", "measurand": "nope"})
#: A valid MeterValues of 0.87 MB, as the red team sent: every node appends it to the stream.
BIG_VALID = _meter_values(870_000, {"value": "1.0", "unit": "Wh"})


async def big_invalid_payloads(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    for _ in range(5):
        await raw.send(BIG_INVALID)
        sent.add()
        await raw.read(5)
    await raw.aclose()


async def deep_nesting(port: int, sent: Tally) -> None:
    nested: Any = {"vendorId": "x"}
    for _ in range(600):
        nested = {"vendorId": "x", "d": nested}
    text = json.dumps([2, "d1", "Heartbeat", {"customData": nested}])
    raw = await upgraded(port, "ocpp2.0.1")
    for _ in range(10):
        await raw.send(text)
        sent.add()
        await raw.read(1)
    await raw.aclose()


async def odd_identities(port: int, sent: Tally) -> None:
    targets = ["/EV%0AIL", "/EV%1B[31mIL", "/" + "E" * 15000, "/EV:IL", "/%00"]
    for target in targets:
        sent.add()
        raw = await Raw.open(port, request(target, "ocpp2.0.1"), source=GUESSER)
        await raw.aclose()


async def unanswerable(port: int, sent: Tally) -> None:
    raw = await upgraded(port, "ocpp2.1")
    frames = [f'[3,"nobody{i}",{{}}]' for i in range(50)]
    frames += [
        f'[6,"s{i}","NotifyPeriodicEventStream",{{"id":1,"pending":0,"basetime":"x"}}]'
        for i in range(50)
    ]
    frames += ["junk"] * 99 + ['[2,"hb","Heartbeat",{}]']
    for text in frames:
        await raw.send(text)
        sent.add()
    await raw.read(1)
    await raw.aclose()


async def long_action(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    await raw.send(json.dumps([2, "x", "A" * 100_000, {}]))
    sent.add()
    await raw.read(1)
    await raw.aclose()


async def duplicate_identity(port: int, sent: Tally) -> None:
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(upgraded, port)
            sent.add()


async def wrong_passwords(port: int, sent: Tally) -> None:
    # Guesses on an identity of their own (EVIL is not slowed), from GUESSER.
    sent.add()
    guess = request("/GUESSED", Authorization=auth("GUESSED", "guess"))
    raw = await Raw.open(port, guess, source=GUESSER)
    await raw.aclose()


async def protocol_errors(port: int, sent: Tally) -> None:
    raw = await upgraded(port)
    await raw.stream.send_all(bytes([0x81, 0x02]) + b"[]")  # unmasked
    sent.add()
    await raw.read(1)
    await raw.aclose()
    raw = await upgraded(port)
    await raw.stream.send_all(bytes([0x80, 0x81]) + b"abcd" + b"x")  # a continuation, no message
    sent.add()
    await raw.read(1)
    await raw.aclose()


# -- issue 23: frames in the handshake's segment --------------------------------------------------

#: Sent in one segment with the opening request: each used to log a 32-line traceback.
PIPELINED = [
    unmasked_key_frame(0x8, (1000).to_bytes(2, "big")),  # a clean Close
    bytes([0x81, 0x02]) + b"[]",  # unmasked
    bytes([0xC1, 0x80]) + b"\0\0\0\0",  # RSV1 set
    request("/EVIL"),  # a second request
    unmasked_key_frame(0x1, b"\xff\xfe"),  # invalid UTF-8
]


async def pipelined_frames(port: int, sent: Tally) -> None:
    for frame in PIPELINED:
        raw = await Raw.open(port)
        await raw.stream.send_all(request("/EVIL") + frame)
        sent.add()
        await raw.until_closed(1)  # 991db0a answered 101 and then nothing
        await raw.aclose()


# -- issue 23: slots held -------------------------------------------------------------------------


async def _hold(count: int, reconnects_per_s: float, one: Callable[[], Awaitable[None]]) -> None:
    """``count`` sockets at once, each ``one()`` until the server hangs up; a closed one is
    replaced at ``reconnects_per_s`` in all (the red team topped up at ~50 a second)."""
    send, receive = trio.open_memory_channel[None](0)

    async def pace() -> None:
        while True:
            await send.send(None)
            await trio.sleep(1 / reconnects_per_s)

    async def holder() -> None:
        while True:
            with contextlib.suppress(*HUNG_UP):
                await one()
            await receive.receive()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pace)
        for _ in range(count):
            nursery.start_soon(holder)


async def held_slots(target: Target, sent: Tally) -> None:
    """1,050 TCP connections that never send a byte (more than ``max_handshakes``)."""

    async def silent() -> None:
        raw = await Raw.open(target.port)
        sent.add()
        try:
            await raw.until_closed()
        finally:
            await raw.aclose()

    await _hold(1050, 50, silent)


#: The start of a TLS ClientHello (record header, handshake header, version, random...).
CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32) + b"\x20" * 40


async def tls_dribble(target: Target, sent: Tally) -> None:
    """1,050 TLS handshakes, each a byte of ClientHello a second."""
    assert target.tls_port is not None

    async def dribble() -> None:
        stream = await trio.open_tcp_stream(HOST, target.tls_port)
        sent.add()
        try:
            for byte in CLIENT_HELLO:
                await stream.send_all(bytes([byte]))
                with trio.move_on_after(1):
                    if not await stream.receive_some():
                        return
        finally:
            await trio.aclose_forcefully(stream)

    await _hold(1050, 50, dribble)


async def never_booting(target: Target, sent: Tally) -> None:
    """2,100 upgraded connections that never send a CALL (the server's descriptor limit is
    2,048), each with credentials of its own."""
    identities = iter(HELD * 1000)

    async def idle() -> None:
        raw = await upgraded(target.port, identity=next(identities))
        sent.add()
        try:
            await raw.until_closed()
        finally:
            await raw.aclose()

    await _hold(2100, 50, idle)


async def fragment_hoarding(target: Target, sent: Tally) -> None:
    """400 connections, each holding a ~1 MiB first fragment that never gets its FIN."""
    first = unmasked_key_frame(0x1, b"[" + b" " * (2**20 - 1000), fin=False)
    identities = iter(HELD * 1000)

    async def hoard() -> None:
        raw = await upgraded(target.port, identity=next(identities))
        try:
            sent.add()
            await raw.stream.send_all(first)
            await raw.until_closed()
        finally:
            await raw.aclose()

    await _hold(400, 20, hoard)

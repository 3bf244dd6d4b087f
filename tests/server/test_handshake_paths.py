"""The opening handshake's fast path and websockets' general path answer alike (issue 22 item 2).

Each request goes, over real sockets, to two servers made alike but for the private switch
``_fast_handshakes``: same status line, same response headers but Date (Sec-WebSocket-Accept,
Sec-WebSocket-Protocol, WWW-Authenticate, Retry-After, Sec-WebSocket-Version...), same body, same
frames afterwards (a BootNotification answered, a Close echoed, or the Close of a connection
without a subprotocol), what ``on_connect`` saw (identity, version, offered subprotocols,
headers), the refusals observers are told of, and the identities whose boot was answered. The
table pins each answer and which requests the fast path takes; hypothesis mixes their parts.
"""

from __future__ import annotations

import contextlib
import email.utils
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
from helpers.upgrade_requests import BASE, CLOSE, KEY, basic, changed, masked, request, requests
from hypothesis import given, settings
from websockets.http11 import MAX_NUM_HEADERS, Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from trio_ocpp import ConnectionRequest, Observer, RejectConnection, Server, testing, v16, v201
from trio_ocpp._core.upgrade_request import parse_upgrade, switching_protocols
from trio_ocpp.routing import on

PASSWORD = "sixteen+ chars pw"
TIME = "2026-01-01T00:00:00Z"
BOOTS = {
    "ocpp1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "ocpp2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
}


def boot_frame(subprotocol: str) -> bytes:
    text = f'[2,"b1","BootNotification",{BOOTS[subprotocol]}]'.replace("'", '"')
    return masked(0x1, text.encode())


BOOT = boot_frame("ocpp1.6")
#: How a request ends when the client sends its BootNotification after the 101, or with it.
ALONE = (b"\r\n\r\n", BOOT)


class Seen(Observer):
    """What one server did: refusals told to observers, requests its on_connect saw (the
    remote left out), identities whose boot was answered."""

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.requests: list[ConnectionRequest] = []
        self.booted: list[str] = []

    def handshake_refused(self, remote: str, reason: str) -> None:
        self.refusals.append(reason)

    async def on_connect(self, info: ConnectionRequest) -> None:
        self.requests.append(attrs.evolve(info, remote=""))
        if info.identity == "UNKNOWN":
            raise RejectConnection(404)
        if info.identity == "BUSY":
            raise RejectConnection(503, [("Retry-After", "30")])


def classes(seen: Seen) -> list[type[Any]]:
    class CS16(v16.ChargePoint):
        @on("BootNotification")
        def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
            seen.booted.append(self.id)
            return v16.call_result.BootNotification(TIME, 10, "Accepted")

    class CS201(v201.ChargePoint):
        @on("BootNotification")
        def on_boot(self, **kwargs: Any) -> v201.call_result.BootNotification:
            seen.booted.append(self.id)
            return v201.call_result.BootNotification(TIME, 10, "Accepted")

    return [CS16, CS201]


#: Server options per configuration of the table.
CONFIGS: dict[str, dict[str, Any]] = {
    "open": {},
    "auth": {"basic_auth": {"CP_1": PASSWORD}},
    "default": {"default_version": "1.6"},
    "full": {"max_connections": 0},
}


@attrs.frozen
class Outcome:
    status: bytes  # the status line; empty when dropped without an answer
    headers: tuple[tuple[bytes, bytes], ...]  # as sent, in order, Date left out
    rest: bytes  # the body, or the frames after the 101
    requests: tuple[ConnectionRequest, ...]
    refusals: tuple[str, ...]
    booted: tuple[str, ...]


class Reader:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def fill(self, size: int) -> bool:
        while len(self.buffer) < size:
            chunk = await self.stream.receive_some()
            if not chunk:
                return False
            self.buffer += chunk
        return True

    async def head(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            if not await self.fill(len(self.buffer) + 1):
                return b""
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return head

    async def frame(self) -> bytes:
        """One unmasked frame, whole (empty at the end of the stream)."""
        if not await self.fill(2):
            return b""
        size, start = self.buffer[1] & 0x7F, 2
        if size == 126:
            await self.fill(4)
            size, start = struct.unpack("!H", self.buffer[2:4])[0], 4
        await self.fill(start + size)
        frame, self.buffer = self.buffer[: start + size], self.buffer[start + size :]
        return frame

    async def to_end(self) -> bytes:
        while await self.fill(len(self.buffer) + 1):
            pass
        return self.buffer


async def outcome(
    server: Server, seen: Seen, data: bytes, split: int = 0, pause: float = 0
) -> Outcome:
    """Send ``data`` (in two writes at ``split`` if given; ``pause`` seconds after connecting)
    and see what comes of it."""
    with trio.fail_after(15):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await trio.sleep(pause)
            if split:
                await stream.send_all(data[:split])
                await trio.sleep(0.05)
            await stream.send_all(data[split:])
            reader = Reader(stream)
            status, *lines = (await reader.head()).split(b"\r\n")
            headers = tuple((name, value) for name, _, value in (x.partition(b": ") for x in lines))
            if status:
                dates = [v for k, v in headers if k == b"Date"]
                assert len(dates) == 1 and email.utils.parsedate_to_datetime(dates[0].decode())
            if status.startswith(b"HTTP/1.1 101"):
                # Without a subprotocol: closed by the server, or 1.6 as its default version.
                subprotocol = dict(headers).get(b"Sec-WebSocket-Protocol", b"ocpp1.6")
                if data.endswith(b"\r\n\r\n"):  # else frames came with the request
                    await stream.send_all(boot_frame(subprotocol.decode()))
                rest = await reader.frame()
                with contextlib.suppress(trio.BrokenResourceError):  # closed already
                    await stream.send_all(CLOSE)
                rest += await reader.to_end()
            else:
                rest = await reader.to_end()
    return Outcome(
        status,
        tuple((k, v) for k, v in headers if k != b"Date"),
        rest,
        tuple(seen.requests),
        tuple(seen.refusals),
        tuple(seen.booted),
    )


@asynccontextmanager
async def servers(config: str) -> AsyncIterator[list[tuple[Server, Seen]]]:
    """Two servers alike, but for the fast path: on in the first, off in the second."""
    async with AsyncExitStack() as stack:
        pair = []
        for fast in (True, False):
            seen = Seen()
            server = Server(
                classes(seen),
                on_connect=seen.on_connect,
                observers=[seen],
                charge_point_options={"ping_interval": 0},
                **CONFIGS[config],
            )
            server._fast_handshakes = fast
            pair.append((await stack.enter_async_context(testing.running(server)), seen))
        yield pair


async def both(config: str, data: bytes, split: int = 0, pause: float = 0) -> Outcome:
    """The outcome of ``data`` on both paths, checked to be the same."""
    async with servers(config) as pair:
        fast, full = [await outcome(server, seen, data, split, pause) for server, seen in pair]
    assert fast == full
    return fast


def fast_path_takes(data: bytes) -> bool:
    return parse_upgrade(data, 4096, MAX_NUM_HEADERS) is not None


def header(name: str, value: str | None) -> bytes:
    """A charge point's request with ``name``'s value replaced (None: left out)."""
    return request(headers=changed(name, value))


def plus(*extra: tuple[str, str], target: str = "/CP_1", after: bytes = b"") -> bytes:
    """A charge point's request with ``extra`` headers."""
    return request(target, (*BASE, *extra), after=after)


PROTOCOL, AUTH = "Sec-WebSocket-Protocol", "Authorization"
ODD_CASING = (
    ("HOST", "x"),
    ("upgrade", "WebSocket"),
    ("CONNECTION", "keep-alive, upgrade"),
    ("sec-websocket-key", KEY),
    ("SEC-WEBSOCKET-VERSION", "13"),
    ("sec-WebSocket-protocol", "ocpp1.6"),
)
MORE = (("User-Agent", "wallbox/1.2"), ("Origin", "http://x"), ("Pragma", "no-cache"))
DEFLATE = ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"

#: name -> (server configuration, request, status expected (0: dropped without an answer, as
#: websockets does with what it cannot read as HTTP), whether the fast path takes it)
TABLE: dict[str, tuple[str, bytes, int, bool]] = {
    "a charge point's request": ("open", request(), 101, True),
    "2.0.1 first": ("open", header(PROTOCOL, "ocpp2.0.1, ocpp1.6"), 101, True),
    "the client's order decides": ("open", header(PROTOCOL, "ocpp1.6,ocpp2.0.1"), 101, True),
    "only versions the server lacks": ("open", header(PROTOCOL, "ocpp2.1, ocpp9"), 101, True),
    "no subprotocol offered": ("open", header(PROTOCOL, None), 101, True),
    "no subprotocol, a default version": ("default", header(PROTOCOL, None), 101, True),
    "an empty list element": ("open", header(PROTOCOL, "ocpp1.6,,ocpp2.0.1"), 101, False),
    "a garbled subprotocol list": ("open", header(PROTOCOL, "ocpp1.6 ocpp2.0.1"), 400, False),
    "subprotocols in two headers": ("open", plus((PROTOCOL, "ocpp2.0.1")), 101, False),
    "odd casing": ("open", request(headers=ODD_CASING), 101, True),
    "more headers": ("open", plus(*MORE, (AUTH, basic("CP_1", "x"))), 101, True),
    "extensions offered": ("open", plus(DEFLATE), 101, True),
    "blanks around values": ("open", header("Sec-WebSocket-Key", f" \t{KEY}  "), 101, True),
    "non-ASCII in a header value": ("open", plus(("User-Agent", "caf\xe9")), 101, True),
    "a query string": ("open", request("/ocpp/CP_1?token=1"), 101, True),
    "a percent-encoded identity": ("open", request("/ocpp/RDAM%20123"), 101, True),
    "no identity": ("open", request("/"), 404, True),
    "a long identity": ("open", request("/" + "C" * 49), 400, True),
    "a control character in the identity": ("open", request("/CP%0A1"), 400, True),
    "on_connect: unknown": ("open", request("/UNKNOWN"), 404, True),
    "on_connect: busy, Retry-After": ("open", request("/BUSY"), 503, True),
    "a frame with the request": ("open", request(after=BOOT), 101, True),
    "a Close with the request": ("open", request(after=CLOSE), 101, True),
    "garbage with the request": ("open", request(after=b"\x81\x05hello"), 101, True),
    "no key": ("open", header("Sec-WebSocket-Key", None), 400, False),
    "a key of 15 bytes": ("open", header("Sec-WebSocket-Key", "eHh4eHh4eHh4eHh4eHh4"), 400, False),
    "a key not base64": ("open", header("Sec-WebSocket-Key", "!" * 22 + "=="), 400, False),
    "two keys": ("open", plus(("Sec-WebSocket-Key", KEY)), 400, False),
    "version 8": ("open", header("Sec-WebSocket-Version", "8"), 426, False),
    "two versions": ("open", plus(("Sec-WebSocket-Version", "13")), 400, False),
    "no version": ("open", header("Sec-WebSocket-Version", None), 400, False),
    "no Upgrade": ("open", header("Upgrade", None), 426, False),
    "Upgrade: h2c": ("open", header("Upgrade", "h2c"), 426, False),
    "Connection: keep-alive": ("open", header("Connection", "keep-alive"), 426, False),
    "POST": ("open", request(line="POST /CP_1 HTTP/1.1"), 405, False),
    "HTTP/1.0": ("open", request(line="GET /CP_1 HTTP/1.0"), 505, False),
    "obs-fold": ("open", plus(("User-Agent", "a\r\n  folded")), 0, False),
    "Content-Length: 0": ("open", plus(("Content-Length", "0")), 101, False),
    "a body": ("open", plus(("Content-Length", "5"), after=b"hello"), 0, False),
    "Transfer-Encoding": ("open", plus(("Transfer-Encoding", "chunked")), 0, False),
    "bare LF": ("open", request(eol=b"\n"), 0, False),
    "a space in the target": ("open", request(line="GET /CP 1 HTTP/1.1"), 0, False),
    "a header line too long": ("open", plus(("User-Agent", "u" * 9000)), 431, False),
    "a request line too long": ("open", request("/" + "x" * 9000), 414, False),
    "a long header block": ("open", plus(("Cookie", "c" * 5000)), 101, False),
    "not HTTP": ("open", TLS_HELLO, 0, False),
    "auth: right": ("auth", plus((AUTH, basic("CP_1", PASSWORD))), 101, True),
    "auth: wrong password": ("auth", plus((AUTH, basic("CP_1", "wrong"))), 401, True),
    "auth: none": ("auth", request(), 401, True),
    "auth: another username": ("auth", plus((AUTH, basic("CP_2", PASSWORD))), 401, True),
    "auth: unknown identity": (
        "auth",
        plus((AUTH, basic("CP_2", PASSWORD)), target="/CP_2"),
        404,
        True,
    ),
    "auth: two headers": ("auth", plus((AUTH, basic("CP_1", PASSWORD)), (AUTH, "x")), 101, False),
    "server full": ("full", request(), 503, True),
}


@pytest.mark.parametrize("name", TABLE)
async def test_both_paths_answer_alike(name: str) -> None:
    config, data, status, fast = TABLE[name]
    assert fast_path_takes(data) == fast
    result = await both(config, data)
    expected = f"HTTP/1.1 {status} ".encode() if status else b""
    assert result.status.startswith(expected) and (status or not result.status)
    booted = status == 101 and result.requests[0].ocpp_version and data.endswith(ALONE)
    assert result.booted == ((result.requests[0].identity,) if booted else ())


async def test_a_request_in_two_segments_goes_the_general_way() -> None:
    result = await both("open", request(), split=30)
    assert result.status.startswith(b"HTTP/1.1 101 ") and result.booted == ("CP_1",)


async def test_a_request_that_comes_after_the_server_waits_for_it_is_answered_alike() -> None:
    """The first read takes what is there at once, and waits when nothing is yet."""
    result = await both("open", request(), pause=0.1)
    assert result.status.startswith(b"HTTP/1.1 101 ") and result.booted == ("CP_1",)


def test_the_fast_paths_101_is_what_websockets_writes() -> None:
    """The template against websockets' own ServerProtocol, headers in order, Date aside."""
    for chosen in ("ocpp1.6", None):
        protocol = ServerProtocol(subprotocols=[Subprotocol(chosen)] if chosen else None)
        protocol.receive_data(request())
        [parsed] = protocol.events_received()
        assert isinstance(parsed, Request)
        response = protocol.accept(parsed)
        date = response.headers["Date"].encode()
        assert switching_protocols(KEY.encode(), chosen, date) == response.serialize()


@settings(max_examples=80, deadline=None)
@given(requests())
async def test_both_paths_answer_mixed_requests_alike(data: bytes) -> None:
    await both("open", data)

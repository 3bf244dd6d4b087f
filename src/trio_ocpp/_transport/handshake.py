"""The WebSocket opening handshake on websockets' sans-I/O protocols, both sides.

Server: :func:`read_request` reads until the request is parsed, :class:`ServerHandshake`
checks it as a WebSocket upgrade (400 for a missing, malformed or repeated Sec-WebSocket-Key,
426 for another Sec-WebSocket-Version), then either sends an HTTP error (:meth:`reject`) or
switches protocols (:meth:`accept`). Bytes that came with the request are frames of the
connection: parsed once it is open, so that they get what they would get a moment later (a
Close its echo, a protocol error its Close code).

The request nearly every charge point sends (``GET``, HTTP/1.1, the usual headers, whole in
the first read) takes a fast path, :class:`FastHandshake`: one scan of the header block in the
core (``_core/upgrade_request.py``), no websockets Request or Response, the 101 written from a
template; anything else goes the general way above, and both answer alike (tested side by side
in ``tests/server/test_handshake_paths.py``). Client: :func:`client_handshake`. Failures
on the client side raise :class:`HandshakeError` and its subclasses, which extend
trio-websocket's of the same names so that code written against them keeps working.
"""

from __future__ import annotations

import email.utils
import functools
import http
import logging
import time
from collections.abc import Generator, Iterable, Sequence
from typing import Any

import attrs
import trio
import trio_websocket
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeaderFormat
from websockets.headers import parse_subprotocol
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS, Request, Response
from websockets.protocol import CONNECTING, SERVER, Protocol
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from .._core.upgrade_request import UpgradeRequest, parse_upgrade, switching_protocols
from .connection import RAW_FD, RECEIVE_BYTES, STREAM_ERRORS, WebSocketConnection, read_now
from .receive_budget import ReceiveBudget

__all__ = [
    "Answer",
    "ConnectionRejected",
    "ConnectionTimeout",
    "FastHandshake",
    "HandshakeError",
    "OpeningRequest",
    "ServerHandshake",
    "client_handshake",
    "read_request",
]

#: The protocols' own logger. websockets logs every connection's open and close at INFO,
#: which the server already says with the identity: only its warnings are shown by default.
protocol_logger = logging.getLogger("trio_ocpp.websocket.protocol")
protocol_logger.setLevel(logging.WARNING)


#: Bytes an opening request may take before it is parsed (an OCPP charge point's takes a few
#: hundred); past them it is answered 431.
MAX_REQUEST_BYTES = 16384
#: The longest header block the fast path reads (a charge point's is a few hundred bytes): no
#: line of it can be longer than websockets takes.
_FAST_HEAD = min(4096, MAX_LINE_LENGTH - 2)


class HandshakeError(trio_websocket.HandshakeError):
    """The opening handshake failed (TCP, TLS, or the server's answer)."""


class ConnectionRejected(HandshakeError, trio_websocket.ConnectionRejected):
    """The server answered the opening handshake with an HTTP error (401, 404, 503, ...)."""

    def __init__(self, status_code: int, headers: Sequence[tuple[bytes, bytes]], body: bytes):
        trio_websocket.ConnectionRejected.__init__(self, status_code, tuple(headers), body)

    def __str__(self) -> str:
        try:
            phrase = http.HTTPStatus(self.status_code).phrase
        except ValueError:
            phrase = "HTTP error"
        return f"connection rejected: {self.status_code} {phrase}"

    def header(self, name: str) -> bytes | None:
        """The first value of response header ``name`` (any case), or None."""
        wanted = name.lower().encode()
        return next((v for k, v in self.headers or () if k == wanted), None)


class ConnectionTimeout(HandshakeError, trio_websocket.ConnectionTimeout):
    """No connection within the connect timeout."""


class _FramesAfterUpgrade(Protocol):
    """Frames wait for the upgrade. ServerProtocol parses the bytes behind the request at
    once, in the CONNECTING state, where a Close gets no echo and a protocol error no Close
    frame, and the end of stream they ask for goes out before the 101."""

    def parse(self) -> Generator[None]:
        while self.state is CONNECTING:
            yield
        yield from super().parse()


class _Protocol(ServerProtocol, _FramesAfterUpgrade):
    """The server protocol with the subprotocol decided by the caller before ``accept()``.

    ServerProtocol's parser reads the request and then hands over to the next class's: to
    :class:`_FramesAfterUpgrade`, placed before Protocol in this class's MRO.
    """

    chosen: Subprotocol | None = None

    def select_subprotocol(self, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
        return self.chosen


async def read_request(
    stream: trio.abc.Stream, max_message_size: int, *, fast: bool = True
) -> OpeningRequest | None:
    """Read one opening request: the handshake to answer once it is parsed; None if the peer
    sent something else (answered, or dropped) or left before a whole request. A request in
    the common form, whole in the first read, takes the fast path (``fast``: tests and
    benchmarks turn it off)."""
    first = bytes(await _first_read(stream))  # no copy of bytes
    if fast:
        request = parse_upgrade(first, _FAST_HEAD, MAX_NUM_HEADERS)
        if request is not None:
            return FastHandshake(stream, request, first, max_message_size)
    return await _read_general(stream, first, max_message_size)


async def _read_general(
    stream: trio.abc.Stream, data: bytes | bytearray, max_message_size: int
) -> ServerHandshake | None:
    """:func:`read_request` through websockets' protocol, from the ``data`` read first."""
    protocol = _Protocol(max_size=max_message_size, logger=protocol_logger)
    received = 0
    while True:
        events = _feed(protocol, data)
        if events:
            assert isinstance(events[0], Request)
            return ServerHandshake(stream, protocol, events[0])
        received += len(data)
        if received > MAX_REQUEST_BYTES and not protocol.writes:
            # websockets takes 128 header lines of 8 KiB: a thousand handshakes could hold a GB.
            protocol.send_response(protocol.reject(431, "Request Header Fields Too Large\n"))
        if protocol.writes or not data:
            # Not HTTP, or a request line or headers too long (414, 431): answered or dropped.
            await _send(stream, protocol.data_to_send())
            return None
        data = await _receive(stream)


@attrs.frozen
class Answer:
    """What :meth:`ServerHandshake.check` found: 101, or the HTTP error to answer."""

    status_code: int
    #: websockets' response; None for the fast path's 101, written from its template.
    response: Response | None


_SWITCH = Answer(101, None)


class ServerHandshake:
    """One parsed opening request, to be rejected or accepted (websockets' general path)."""

    def __init__(self, stream: trio.abc.Stream, protocol: _Protocol, request: Request):
        self.stream = stream
        self.request = request
        self._protocol = protocol

    @property
    def path(self) -> str:
        return self.request.path

    def headers(self) -> dict[str, bytes]:
        """Request headers, names lower-cased, values as sent (the first of repeated ones)."""
        headers: dict[str, bytes] = {}
        for name, value in self.request.headers.raw_items():
            # The protocol read the values as ISO-8859-1: this gives back the bytes sent.
            headers.setdefault(name.lower(), value.encode("latin-1"))
        return headers

    def offered_subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the request offers, in its order; ValueError if garbled."""
        try:
            values = self.request.headers.get_all("Sec-WebSocket-Protocol")
            return tuple(sub for value in values for sub in parse_subprotocol(value))
        except InvalidHeaderFormat as exc:
            raise ValueError(str(exc)) from None

    def check(self, subprotocol: str | None) -> Answer:
        """The answer accepting the request with ``subprotocol`` (or no such header), or the
        HTTP error a request that is no valid WebSocket upgrade gets."""
        versions = self.request.headers.get_all("Sec-WebSocket-Version")
        if len(versions) == 1 and versions[0] != "13":
            # RFC 6455 4.4: say which version we speak.
            response = self._protocol.reject(426, "Unsupported Sec-WebSocket-Version\n")
            response.headers["Sec-WebSocket-Version"] = "13"
            return Answer(426, response)
        self._protocol.chosen = None if subprotocol is None else Subprotocol(subprotocol)
        response = self._protocol.accept(self.request)
        return Answer(response.status_code, response)

    async def reject(
        self, status: int, headers: Iterable[tuple[str, str]] = (), answer: Answer | None = None
    ) -> None:
        """Answer with an HTTP error (or ``answer``, an error from :meth:`check`) and end the
        stream."""
        response = None if answer is None else answer.response
        await _reject(self.stream, self._protocol, status, headers, response)

    def accept(
        self, answer: Answer, remote: str, budget: ReceiveBudget | None = None
    ) -> WebSocketConnection:
        """Switch protocols with ``answer`` (a 101 from :meth:`check`): the open connection,
        with the response still to be sent (by its first read or write), so that the
        server can register it first. ``budget``: the server's, for unfinished messages."""
        protocol = self._protocol
        assert answer.response is not None
        protocol.send_response(answer.response)
        protocol.receive_data(b"")  # open: the parser goes on to the frames sent with the request
        return WebSocketConnection(
            self.stream,
            protocol,
            path=self.request.path,
            subprotocol=protocol.subprotocol,
            remote=remote,
            pending=protocol.events_received(),
            budget=budget,
        )


class FastHandshake:
    """An opening request in the common form (``_core/upgrade_request.py``): valid, so
    :meth:`check` accepts it, and the 101 is written from a template. Its errors (401, 404,
    503...) are rare: websockets' protocol writes them, as on the general path."""

    def __init__(
        self, stream: trio.abc.Stream, request: UpgradeRequest, data: bytes, max_size: int
    ):
        self.stream = stream
        self.path = request.path
        self._request = request
        self._data = data
        self._max_size = max_size
        self._chosen: Subprotocol | None = None

    def headers(self) -> dict[str, bytes]:
        """Request headers, names lower-cased, values as sent."""
        return self._request.headers

    def offered_subprotocols(self) -> tuple[str, ...]:
        return self._request.subprotocols

    def check(self, subprotocol: str | None) -> Answer:
        self._chosen = None if subprotocol is None else Subprotocol(subprotocol)
        return _SWITCH

    async def reject(
        self, status: int, headers: Iterable[tuple[str, str]] = (), answer: Answer | None = None
    ) -> None:
        """As :meth:`ServerHandshake.reject`; ``answer`` is never an error here (the request
        is valid), so the response is websockets' for ``status``."""
        protocol = _Protocol(max_size=self._max_size, logger=protocol_logger)
        await _reject(self.stream, protocol, status, headers, None)

    def accept(
        self, answer: Answer, remote: str, budget: ReceiveBudget | None = None
    ) -> WebSocketConnection:
        """As :meth:`ServerHandshake.accept`."""
        request = self._request
        protocol = Protocol(SERVER, max_size=self._max_size, logger=protocol_logger)
        protocol.subprotocol = chosen = self._chosen
        key = request.headers["sec-websocket-key"]
        protocol.writes.append(switching_protocols(key, chosen, _http_date(int(time.time()))))
        frames = self._data[request.size :]
        if frames:
            protocol.receive_data(frames)
        return WebSocketConnection(
            self.stream,
            protocol,
            path=request.path,
            subprotocol=chosen,
            remote=remote,
            pending=protocol.events_received(),
            budget=budget,
            between_frames=not frames,
        )


#: What :func:`read_request` returns: the general path's request or the fast path's.
OpeningRequest = ServerHandshake | FastHandshake


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> bytes:
    """The Date header's value, made once a second."""
    return email.utils.formatdate(second, usegmt=True).encode()


async def _reject(
    stream: trio.abc.Stream,
    protocol: ServerProtocol,
    status: int,
    headers: Iterable[tuple[str, str]],
    response: Response | None,
) -> None:
    if response is None:
        response = protocol.reject(status, f"{http.HTTPStatus(status).phrase}\n")
    for name, value in headers:
        response.headers[name] = value
    protocol.send_response(response)
    await _send(stream, protocol.data_to_send())


async def _first_read(stream: trio.abc.Stream) -> bytes | bytearray:
    """:func:`_receive` for the first bytes of a request. A charge point sends its request as
    soon as it is connected: on plain TCP it is there, most often, by the time the connection's
    task runs, and is taken here without the checkpoint that trio's read makes after it (a pass
    through the scheduler, a twentieth of what a connection costs up to its first answer)."""
    if not (RAW_FD and type(stream) is trio.SocketStream):
        return await _receive(stream)
    sock = stream.socket
    try:
        while (data := read_now(sock)) is None:  # not yet: wait for it, then read
            await trio.lowlevel.wait_readable(sock)
    except STREAM_ERRORS:
        return b""
    return data


async def _receive(stream: trio.abc.Stream) -> bytes | bytearray:
    """One read from ``stream``; empty at its end (or when it broke)."""
    try:
        return await stream.receive_some(RECEIVE_BYTES)
    except STREAM_ERRORS:
        return b""


def _feed(protocol: Protocol, data: bytes | bytearray) -> list[Any]:
    """``data`` (empty: the end of the stream) into ``protocol``: the events that came out."""
    if data:
        protocol.receive_data(data)
    else:
        protocol.receive_eof()
    return protocol.events_received()


async def _read_into(
    stream: trio.abc.Stream, protocol: Protocol
) -> tuple[list[Any], bytes | bytearray]:
    """Read once from ``stream`` into ``protocol``: the events that came out, and the bytes
    read (empty at the end of the stream)."""
    data = await _receive(stream)
    return _feed(protocol, data), data


async def _send(stream: trio.abc.Stream, writes: list[bytes]) -> None:
    data = b"".join(writes)
    try:
        if data:
            await stream.send_all(data)
    except STREAM_ERRORS:
        pass  # the peer is gone: nothing more to tell it
    if not all(writes):  # the protocol's end of stream
        await trio.aclose_forcefully(stream)


async def client_handshake(
    stream: trio.abc.Stream,
    url: str,
    subprotocols: Sequence[str],
    headers: Sequence[tuple[str, str]],
    max_message_size: int,
) -> WebSocketConnection:
    """Open a connection on ``stream`` (TCP, or TLS done already): the open connection, or
    ConnectionRejected for an HTTP answer, HandshakeError for anything else."""
    uri = parse_uri(url)
    offered = [Subprotocol(sub) for sub in subprotocols]
    protocol = ClientProtocol(
        uri, subprotocols=offered, max_size=max_message_size, logger=protocol_logger
    )
    request = protocol.connect()
    extra = Headers(headers)
    for name in extra:
        if name in request.headers:
            del request.headers[name]  # ours win (over Authorization from the URL, say)
    request.headers.update(extra)
    protocol.send_request(request)
    await stream.send_all(b"".join(protocol.data_to_send()))
    while True:
        events, data = await _read_into(stream, protocol)
        if events:
            response = events[0]
            assert isinstance(response, Response)
            break
        if protocol.handshake_exc is not None:
            raise HandshakeError(f"{url}: invalid handshake response: {protocol.handshake_exc}")
        if not data:
            raise HandshakeError(f"{url}: the server closed the connection during the handshake")
    if response.status_code != 101:
        # Names lower-cased, as trio-websocket gives them.
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.raw_items()
        ]
        raise ConnectionRejected(response.status_code, raw, bytes(response.body))
    if protocol.handshake_exc is not None:
        raise HandshakeError(f"{url}: invalid handshake response: {protocol.handshake_exc}")
    return WebSocketConnection(
        stream,
        protocol,
        path=uri.resource_name,
        subprotocol=protocol.subprotocol,
        remote=f"{uri.host}:{uri.port}",
        pending=events[1:],
    )

"""The read fast path (whole text frames read without the protocol) changes nothing a peer sees.

Random frame streams, cut at random read boundaries, go through two connections: one as it
reads, one with the fast path off (the protocol parses every frame). After each read both hold
the same messages and charge the same unfinished bytes; in the end both wrote the same bytes
and closed with the same code and reason. Where the stream holds no Close inside a fragmented
message (the one case where we answer differently from websockets) and no invalid text, the
bytes written are also those of websockets' bare protocol fed the same reads.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import trio
import trio.testing
from helpers.peers import frame
from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.frames import CLOSE, CONT, PING, PONG, TEXT
from websockets.protocol import CLIENT, SERVER, Protocol
from websockets.utils import apply_mask

from trio_ocpp._transport.connection import WebSocketConnection

BINARY = 0x2
KEY = b"\x13\x37\x42\x21"  # ASCII stays ASCII: text read from a wrong place may still decode
# 0x8102 and 0x8182: 16-bit lengths that read as the start of a text frame
SIZES = [0, 1, 2, 5, 125, 126, 127, 200, 0x8102, 0x8182, 65535, 65536]
CLOSES = [
    b"",
    b"\x03",
    struct.pack("!H", 1000),
    struct.pack("!H", 1000) + b"bye",
    struct.pack("!H", 4001) + b"x" * 123,
    struct.pack("!H", 1000) + b"x" * 124,
    struct.pack("!H", 999),
    struct.pack("!H", 1005),
    struct.pack("!H", 1000) + b"\xff",
]


def encode(opcode: int, payload: bytes, fin: bool, rsv: int, mask: bool) -> bytes:
    return frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, key=KEY)


@st.composite
def payloads(draw: Any, limit: int) -> bytes:
    small = st.sampled_from([0, 1, 2, 5, 30, 125])
    size = draw(st.one_of(small, st.sampled_from([*SIZES, limit - 1, limit, limit + 1])))
    seed = draw(st.sampled_from(["x", "[2,", "\x00", "é", "€"])).encode()
    data = (seed * (size // len(seed) + 1))[:size]  # may cut a character: invalid UTF-8
    if data and draw(st.integers(0, 19)) == 0:
        data = data[:-1] + b"\xff"
    return data


def decoy(server: bool) -> bytes:
    """A payload whose bytes on the wire are a whole text frame: read from a wrong place,
    it would pass for one."""
    inner = encode(TEXT, b"[]", True, 0, server)
    return apply_mask(inner, KEY) if server else inner


@st.composite
def streams(draw: Any) -> tuple[bool, int, list[bytes], list[int], bool]:
    """(server side, max size, frames, cuts, plain): plain if websockets would answer alike."""
    server = draw(st.booleans())
    limit = draw(st.sampled_from([300, 70000]))
    frames: list[bytes] = []
    plain = True
    fragmented = False
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(
            st.sampled_from(["text"] * 8 + ["fragment"] * 2 + ["decoy", "control", "mask", "odd"])
        )
        fin, rsv, mask = True, 0, server
        if kind == "text":
            opcode, payload = TEXT, draw(payloads(limit))
        elif kind == "fragment":
            opcode = draw(st.sampled_from([TEXT, BINARY, CONT]))
            payload, fin = draw(payloads(limit)), draw(st.booleans())
        elif kind == "decoy":
            opcode, payload = draw(st.sampled_from([BINARY, PING])), decoy(server)
        elif kind == "mask":  # masked by a server, or not by a client
            opcode, payload, mask = TEXT, draw(payloads(limit)), not server
        elif kind == "control":
            opcode = draw(st.sampled_from([PING, PONG, CLOSE]))
            size = draw(st.sampled_from([0, 4, 125, 126]))
            payload = draw(st.sampled_from(CLOSES)) if opcode is CLOSE else b"p" * size
        else:
            opcode = draw(st.sampled_from([TEXT, BINARY, CONT, PING, 0x3, 0xB]))
            payload = draw(payloads(limit))
            fin, rsv = draw(st.booleans()), draw(st.sampled_from([0, 1, 4]))
            mask = draw(st.booleans())
        if opcode is TEXT:
            try:
                payload.decode()
            except UnicodeDecodeError:
                plain = False
        if opcode is CLOSE and fragmented:
            plain = False
        if opcode in (TEXT, BINARY, CONT):
            fragmented = not fin
        frames.append(encode(opcode, payload, fin, rsv, mask))
    # Cuts between frames, inside headers, where a payload begins, and anywhere.
    cuts, start = [], 0
    where = st.sampled_from(["frame"] * 4 + ["payload"] * 2 + ["header", "none"])
    for data in frames:
        header = 2 + {126: 2, 127: 8}.get(data[1] & 0x7F, 0) + (4 if data[1] & 0x80 else 0)
        for place in draw(st.lists(where, min_size=1, max_size=2)):
            if place == "frame":
                cuts.append(start)
            elif place == "payload":
                cuts.append(start + header)
            elif place == "header":
                cuts.append(start + draw(st.integers(1, header - 1)))
        start += len(data)
    cuts += draw(st.lists(st.integers(0, start), max_size=3))
    return server, limit, frames, cuts, plain


def reads(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *(cut for cut in cuts if 0 < cut < len(stream))})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def sent(data: bytes) -> list[tuple[int, bytes]]:
    """The frames in bytes we wrote, unmasked (a client masks with random keys)."""
    frames, pos = [], 0
    while pos < len(data):
        n, start = data[pos + 1] & 0x7F, pos + 2
        if n > 125:
            width = 2 if n == 126 else 8
            n, start = int.from_bytes(data[start : start + width]), start + width
        key = data[start : start + 4] if data[pos + 1] & 0x80 else b""
        start += len(key)
        payload = data[start : start + n]
        frames.append((data[pos], apply_mask(payload, key) if key else payload))
        pos = start + n
    return frames


def where(frames: list[bytes], fed: int) -> tuple[int, bytes]:
    """What the connection should know of the frame its protocol is in after ``fed`` bytes:
    the bytes still to come once the length is known, else the frame's start."""
    for data in frames:
        if fed < len(data):
            if not fed:
                return 0, b""
            length_end = 2 + {126: 2, 127: 8}.get(data[1] & 0x7F, 0) if fed > 1 else 2
            return (len(data) - fed, b"") if fed >= length_end else (0, data[:fed])
        fed -= len(data)
    return 0, b""


def run(
    server: bool, limit: int, handshake: bytes, chunks: list[bytes], fast: bool, frames: list[bytes]
) -> Any:
    """What a connection does with these reads, driven as its reader drives it (no I/O); on the
    way, that it knows where the frames end once it has seen one end."""
    protocol = Protocol(SERVER if server else CLIENT, max_size=limit)
    protocol.receive_data(handshake)  # frames sent with the opening handshake
    stream = trio.StapledStream(trio.testing.MemorySendStream(), trio.testing.MemoryReceiveStream())
    ws = WebSocketConnection(stream, protocol, pending=protocol.events_received())
    if not fast:
        ws._fast = -1
    steps = []
    written = [b"".join(protocol.data_to_send())]
    fed = len(handshake)
    for index, chunk in enumerate([*chunks, b""]):  # b"": the end of the stream
        if protocol.eof_sent or protocol.state.name == "CLOSED":
            break  # the reader stops here
        ws._received(bytearray(chunk) if index % 2 else chunk)  # as a TLS stream reads
        fed += len(chunk)
        if ws._left >= 0 and protocol.state.name == "OPEN":
            assert (ws._left, ws._head) == where(frames, fed)
        steps.append((list(ws._messages), ws._held))
        written.append(b"".join(protocol.data_to_send()))
    return steps, sent(b"".join(written)), protocol.eof_sent, ws._close_info(), protocol.state


def bare(server: bool, limit: int, handshake: bytes, chunks: list[bytes]) -> Any:
    """The bytes websockets' protocol writes for the same reads, and its close."""
    protocol = Protocol(SERVER if server else CLIENT, max_size=limit)
    protocol.receive_data(handshake)
    written = b"".join(protocol.data_to_send())
    for chunk in [*chunks, b""]:
        if protocol.eof_sent or protocol.state.name == "CLOSED":
            break
        protocol.receive_data(chunk) if chunk else protocol.receive_eof()
        written += b"".join(protocol.data_to_send())
    close = protocol.close_rcvd or protocol.close_sent
    return sent(written), close and (close.code, close.reason)


def pinned(server: bool, frames: list[tuple[int, bytes, bool]], cuts: list[int]) -> Any:
    """An example: frames as (opcode, payload, masked as the side wants), reads cut at the
    stream offsets ``cuts``."""
    data = [encode(op, payload, True, 0, server == right) for op, payload, right in frames]
    return {"drawn": (server, 70000, data, cuts, False), "handshake_bytes": 0}


# A read beginning inside a 16-bit length that reads as a text frame's header.
CUT_LENGTH = pinned(False, [(TEXT, b"a", True), (BINARY, b"x" * 0x8102, True)], [3, 5])
# Unmasked text frames on the server whose bytes, unmasked by their first four, are text.
WRONG_MASK = [(TEXT, b"a", True), (TEXT, b"\x80\0\0\0" * 3, False), (TEXT, b"bb", False)]
UNMASKED = pinned(True, WRONG_MASK, [7])


@example(**CUT_LENGTH)
@example(**UNMASKED)
@settings(max_examples=400, deadline=None)
@given(streams(), st.sampled_from([0, 0, 0, 0, 1, 2, 3, 6, 9, 20]))
def test_the_fast_path_reads_as_the_protocol_does(drawn: Any, handshake_bytes: int) -> None:
    server, limit, frames, cuts, plain = drawn
    stream = b"".join(frames)
    # The first bytes came with the opening handshake (the parser may stop inside a frame).
    handshake, stream = stream[:handshake_bytes], stream[handshake_bytes:]
    chunks = reads(stream, cuts)
    fast = run(server, limit, handshake, chunks, True, frames)
    slow = run(server, limit, handshake, chunks, False, frames)
    assert fast == slow
    if plain:
        _, written, _, close, _ = slow
        ours = close if close[0] != 1006 else None
        assert bare(server, limit, handshake, chunks) == (written, ours)


class Counting(Protocol):
    """websockets' protocol, counting the reads given to it."""

    reads = 0

    def receive_data(self, data: bytes | bytearray) -> None:
        self.reads += 1
        super().receive_data(data)


def test_whole_text_frames_skip_the_protocol_once_a_frame_ended_a_read() -> None:
    for side in (SERVER, CLIENT):
        protocol = Counting(side, max_size=2**20)
        stream = trio.StapledStream(
            trio.testing.MemorySendStream(), trio.testing.MemoryReceiveStream()
        )
        ws = WebSocketConnection(stream, protocol)
        masked = side is SERVER
        ws._received(encode(TEXT, b"first", True, 0, masked))  # where the parser stands: unknown
        given = protocol.reads
        texts = [b"[]", b"x" * 125, b"\xe2\x82\xac" * 100, b"y" * 65535]
        for text in texts:
            ws._received(encode(TEXT, text, True, 0, masked) * 2)
        assert protocol.reads == given
        assert list(ws._messages) == ["first"] + [text.decode() for text in texts for _ in "ab"]


def spy(protocol: Protocol) -> list[bytes]:
    """What ``protocol`` is fed from now on."""
    fed: list[bytes] = []
    receive_data = protocol.receive_data

    def receive(data: bytes | bytearray) -> None:
        fed.append(bytes(data))
        receive_data(data)

    protocol.receive_data = receive  # type: ignore[method-assign]
    return fed


async def test_the_first_read_after_a_fast_handshake_skips_the_protocol_too() -> None:
    """Nothing followed the request: the parser stands between frames from the start, so a
    charge point's first message (its BootNotification, in a storm) is read fast too."""
    from helpers.upgrade_requests import request

    from trio_ocpp._transport.handshake import FastHandshake, read_request

    for after, fast in ((b"", True), (encode(TEXT, b"early", True, 0, True), False)):
        ours, peer = trio.testing.memory_stream_pair()
        await peer.send_all(request(after=after))
        handshake = await read_request(ours, 2**20)
        assert isinstance(handshake, FastHandshake)
        ws = handshake.accept(handshake.check("ocpp1.6"), "")
        fed = spy(ws._protocol)
        ws._received(encode(TEXT, b'[2,"1","Heartbeat",{}]', True, 0, True))
        assert (fed == []) is fast
        assert ws._messages[-1] == '[2,"1","Heartbeat",{}]'

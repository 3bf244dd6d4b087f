"""WebSocket frames read from the bytes themselves (RFC 6455 5.2), beside websockets' parser.

An inbound OCPP message is one small text frame, whole in one read. websockets' parser steps a
generator per header field, builds a Frame and an event per frame, and the connection then
joins and decodes it: :func:`take_texts` does what such a frame needs in one pass. The other
frames go to the parser through :func:`feed`, which follows where they end, so that the
connection knows when the parser stands between frames, and where a Close frame begins.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.protocol import Protocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["feed", "frame_size", "take_texts"]

#: The opcode of a Close frame (the low four bits of a frame's first byte).
_CLOSE = 0x8
#: The first byte of a whole text frame: FIN, no reserved bit, opcode 1.
_FIN_TEXT = 0x81


def take_texts(
    data: bytes | bytearray, masked: bool, limit: int, append: Callable[[str], None]
) -> int:
    """Decode the whole text frames at the start of ``data`` into ``append``; the bytes they
    took. Each is unfragmented, has no reserved bit, is masked if ``masked`` (and only then),
    has at most ``limit`` bytes (-1: none is taken) and is valid UTF-8; the first frame that
    is not, or is cut off, ends the run."""
    pos = 0
    end = len(data)
    mask_bit = 0x80 if masked else 0
    while end - pos > 1 and data[pos] == _FIN_TEXT:
        second = data[pos + 1]
        if second & 0x80 != mask_bit:
            break
        size = second & 0x7F
        start = pos + 2
        if size > 125:
            if size == 127 or end - start < 2:
                break  # a 64-bit length: more than one read holds
            size = data[start] << 8 | data[start + 1]
            start += 2
        if masked:
            start += 4
        stop = start + size
        if stop > end or size > limit:
            break
        payload = data[start:stop]
        if masked:
            payload = apply_mask(payload, data[start - 4 : start])
        try:
            append(payload.decode())
        except UnicodeDecodeError:
            break  # the protocol's path answers it (1007)
        pos = stop
    return pos


def frame_size(data: bytes | bytearray, pos: int) -> int:
    """Bytes of the frame at ``data[pos]``, header and payload; 0 while its length is cut off.
    Read as websockets' parser reads it: a 16- or 64-bit length need not be the shortest."""
    available = len(data) - pos
    if available < 2:
        return 0
    second = data[pos + 1]
    size = second & 0x7F
    header = 6 if second & 0x80 else 2
    if size == 126:
        if available < 4:
            return 0
        size = int.from_bytes(data[pos + 2 : pos + 4])
        header += 2
    elif size == 127:
        if available < 10:
            return 0
        size = int.from_bytes(data[pos + 2 : pos + 10])
        header += 8
    return header + size


def feed(
    protocol: Protocol, data: bytes | bytearray, pos: int, left: int, head: bytes
) -> tuple[int, bytes]:
    """Give ``data[pos:]`` to ``protocol``, following where its frames end: ``left``, the bytes
    of the frame the parser is in still to come (-1: unknown), ``head``, the start of a frame
    whose length is still to come; the two after ``data``.

    A Close frame inside a fragmented message ends that message first, so that the protocol
    answers it (RFC 6455 5.4 lets control frames come between fragments; Autobahn case 7.1.5)
    instead of failing the connection with 1002."""
    end = len(data)
    if left < 0:
        # Where the parser stands is unknown (the handshake may have given it the start of a
        # frame): suppose it stands at the read's start. A frame that ends where that says, or
        # the read's end, shows a frame's end if a frame comes of its last byte.
        size = frame_size(data, pos)
        stop = pos + size if 0 < size < end - pos else end
        known = _ends_frame(protocol, data, pos, stop)
        if not known and stop < end:
            known, stop = _ends_frame(protocol, data, stop, end), end
        if not known or stop == end:
            return (0 if known else -1), b""
        pos, left = stop, 0
    start = pos
    if head:
        whole = head + data[pos : pos + 10]
        size = frame_size(whole, 0)
        if not size:  # still no length: the read was shorter than it
            protocol.receive_data(data[pos:])
            return 0, whole
        left, head = size - len(head), b""
    while True:
        if left:
            if left >= end - pos:
                left -= end - pos
                break
            pos += left
            left = 0
        if pos == end:
            break
        if data[pos] & 0x0F == _CLOSE:
            # Before the parser begins it (and sizes it against the message's rest).
            if start < pos:
                protocol.receive_data(data[start:pos])
                start = pos
            protocol.current_size = None  # the message it interrupts is not finished
        size = frame_size(data, pos)
        if not size:
            head = bytes(data[pos:])
            break
        left = size
    protocol.receive_data(data[start:] if start else data)
    return left, head


def _ends_frame(protocol: Protocol, data: bytes | bytearray, start: int, stop: int) -> bool:
    """Give ``data[start:stop]`` to ``protocol``: True if a frame ended with its last byte."""
    protocol.receive_data(data[start : stop - 1])
    frames = len(protocol.events)
    protocol.receive_data(data[stop - 1 : stop])
    return len(protocol.events) > frames

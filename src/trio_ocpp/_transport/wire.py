"""WebSocket frames read from the bytes themselves (RFC 6455 5.2), beside websockets' parser.

An inbound OCPP message is one small text frame, whole in one read. websockets' parser steps a
generator per header field, builds a Frame and an event per frame, and the connection then
joins and decodes it: :func:`take_texts` does what such a frame needs in one pass.
:func:`frame_size` lets the connection follow where the frames it gives the parser end.
"""

from __future__ import annotations

from collections.abc import Callable

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["CLOSE", "frame_size", "take_texts"]

#: The opcode of a Close frame (the low four bits of a frame's first byte).
CLOSE = 0x8
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

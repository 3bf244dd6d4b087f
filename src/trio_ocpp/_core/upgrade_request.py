"""The opening request a charge point sends, read in one scan, and the 101 that answers it.

A reconnecting fleet spends its time in opening handshakes; nearly all of them are the same
request: ``GET <path> HTTP/1.1`` and a few headers (Host, Upgrade, Connection,
Sec-WebSocket-Key, Sec-WebSocket-Version 13, Sec-WebSocket-Protocol, maybe Authorization,
User-Agent, Origin). :func:`parse_upgrade` reads such a request and returns None for anything
else, which the transport then gives to websockets' general parser: whatever the general path
would refuse, or read in a way this scan does not, is "anything else". That is: another
method or HTTP version, a header block not whole or over ``max_head`` bytes or ``max_headers``
lines, a bare CR or LF, obs-fold or any line websockets would refuse, a header repeated (names
compared in any case), a body (Content-Length, Transfer-Encoding), a Connection without the
``upgrade`` token, an Upgrade other than ``websocket``, a Sec-WebSocket-Key that is not 24
characters of base64 (16 bytes), a Sec-WebSocket-Version other than 13, and list headers with
empty elements. Sec-WebSocket-Extensions is read and ignored, as the general path does when the
server offers no extension (it offers none: CONFORMANCE 36).

Pure: no I/O, no websockets; the transport passes websockets' limits.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

import attrs

__all__ = ["UpgradeRequest", "accept_key", "parse_upgrade", "switching_protocols"]

#: RFC 6455 1.3: appended to the key before hashing.
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: A comma-separated list of RFC 7230 tokens (no empty element), stripped already.
_TOKENS: Final = re.compile(
    rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+(?:[ \t]*,[ \t]*[-!#$%&'*+.^_`|~0-9a-zA-Z]+)*"
)
#: The whole header block, checked at once: the request line (a target with no space or control
#: character), then header lines of a token, a colon and a value websockets takes (HTAB, SP,
#: VCHAR, obs-text: no CR or LF, so obs-fold and bare line ends fail). No backtracking: a line
#: starts with CRLF, which no value holds.
_HEAD: Final = re.compile(
    rb"GET ([\x21-\x7e]+) HTTP/1\.1"
    rb"((?:\r\n[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[\t\x20-\x7e\x80-\xff]*)*)\r\n\r\n"
)
#: What base64.b64decode(validate=True) reads as 16 bytes, and only that.
_KEY: Final = re.compile(rb"[A-Za-z0-9+/]{22}==")
#: Headers announcing a body, which an opening request does not have.
_BODY: Final = frozenset({"content-length", "transfer-encoding"})


@attrs.frozen
class UpgradeRequest:
    """An opening request in the common form."""

    #: The request target, as sent.
    path: str
    #: Headers, names lower-cased, values stripped of surrounding blanks (each name once).
    headers: dict[str, bytes]
    #: The Sec-WebSocket-Protocol values in the client's order.
    subprotocols: tuple[str, ...]
    #: Bytes of the request: what follows belongs to the WebSocket connection.
    size: int


def parse_upgrade(data: bytes, max_head: int, max_headers: int) -> UpgradeRequest | None:
    """The request at the start of ``data`` in its common form, or None (see the module
    docstring): ``max_head`` bytes at most up to the blank line, ``max_headers`` lines."""
    end = data.find(b"\r\n\r\n", 0, max_head + 4)
    head = None if end < 0 else _HEAD.fullmatch(data, 0, end + 4)
    if head is None:
        return None
    lines = head[2].split(b"\r\n")  # the first is empty: the block starts with CRLF
    if len(lines) > max_headers + 1:
        return None
    headers = {
        name.decode().lower(): value.strip(b" \t")
        for name, _, value in (line.partition(b":") for line in lines)
    }
    del headers[""]
    if len(headers) != len(lines) - 1:
        return None  # a header repeated
    connection = _tokens(headers.get("connection", b""))
    offered = headers.get("sec-websocket-protocol")
    subprotocols = () if offered is None else _tokens(offered)
    if (
        connection is None
        or b"upgrade" not in [token.lower() for token in connection]
        or headers.get("upgrade", b"").lower() != b"websocket"
        or not _KEY.fullmatch(headers.get("sec-websocket-key", b""))
        or headers.get("sec-websocket-version") != b"13"
        or subprotocols is None
        or not _BODY.isdisjoint(headers)
    ):
        return None
    return UpgradeRequest(
        head[1].decode(),
        headers,
        tuple(token.decode() for token in subprotocols),
        end + 4,
    )


def _tokens(value: bytes) -> list[bytes] | None:
    """The elements of a comma-separated list of tokens, or None if it has anything else."""
    if _TOKENS.fullmatch(value) is None:
        return None
    return [token.strip(b" \t") for token in value.split(b",")]


def accept_key(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def switching_protocols(key: bytes, subprotocol: str | None, date: bytes) -> bytes:
    """The 101 response to a request with ``key``: the headers websockets' ServerProtocol
    writes, in its order (Date as ``email.utils.formatdate(usegmt=True)`` gives it)."""
    chosen = b""
    if subprotocol is not None:
        chosen = b"Sec-WebSocket-Protocol: %s\r\n" % subprotocol.encode()
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nDate: %s\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n"
    ) % (date, accept_key(key), chosen)

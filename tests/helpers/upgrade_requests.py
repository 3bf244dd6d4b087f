"""Opening requests for the handshake tests: a charge point's, its parts changed
(``changed``, ``request``), and hypothesis' mixes of them (``requests``)."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
BASE = (
    ("Host", "127.0.0.1"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Protocol", "ocpp1.6"),
)
Headers = tuple[tuple[str, str], ...]


def request(
    target: str = "/CP_1",
    headers: Headers = BASE,
    *,
    line: str | None = None,
    after: bytes = b"",
    eol: bytes = b"\r\n",
) -> bytes:
    start = line or f"GET {target} HTTP/1.1"
    lines = [start.encode(), *(f"{name}: {value}".encode("latin-1") for name, value in headers)]
    return eol.join(lines) + eol + eol + after


def changed(name: str, value: str | None, headers: Headers = BASE) -> Headers:
    """``headers`` with ``name``'s value replaced (None: dropped)."""
    kept = tuple((n, v) for n, v in headers if n != name)
    return kept if value is None else ((name, value), *kept)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


CLOSE = masked(0x8, struct.pack("!H", 1000))

NAMES = [name for name, _ in BASE]
SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1", "chat", ""]


@st.composite
def requests(draw: Callable[..., Any]) -> bytes:
    """Requests made of a charge point's, their parts changed or left out."""
    headers = dict(BASE)
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=3)):
        headers.pop(name, None)
    headers["Sec-WebSocket-Protocol"] = draw(
        st.lists(st.sampled_from(SUBPROTOCOLS), max_size=3).map(
            lambda subs: draw(st.sampled_from([",", ", ", " ,", " "])).join(subs)
        )
    )
    if draw(st.booleans()):
        key = draw(
            st.one_of(
                st.binary(min_size=14, max_size=18).map(base64.b64encode), st.binary(max_size=30)
            )
        )
        headers["Sec-WebSocket-Key"] = key.decode("latin-1").replace("\r", "").replace("\n", "")
    headers["Sec-WebSocket-Version"] = draw(st.sampled_from(["13", "13", "8", " 13 ", "13,8"]))
    headers["Connection"] = draw(
        st.sampled_from(["Upgrade", "upgrade", "keep-alive, Upgrade", "close", "Upgrade,"])
    )
    lines = [(draw(st.sampled_from([n, n.lower(), n.upper()])), v) for n, v in headers.items()]
    lines = draw(st.permutations(lines))
    extra = draw(
        st.lists(
            st.sampled_from(
                [
                    ("User-Agent", "cp/1"),
                    ("Origin", "null"),
                    ("Sec-WebSocket-Extensions", "permessage-deflate"),
                    ("Authorization", basic("CP_1", "x")),
                ]
            ),
            max_size=2,
        )
    )
    target = draw(
        st.sampled_from(["/CP_1", "/ocpp/CP%201", "/", "/UNKNOWN", "/CP_1?x=1", "/" + "L" * 60])
    )
    method = draw(st.sampled_from(["GET", "GET", "GET", "get", "HEAD"]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    after = draw(st.sampled_from([b"", CLOSE, b"\x81\x05hello"]))
    return request(line=f"{method} {target} {version}", headers=(*lines, *extra), after=after)

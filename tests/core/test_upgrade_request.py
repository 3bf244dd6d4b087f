"""The fast path's reading of an opening request against websockets' (issue 22 item 2): whatever
``parse_upgrade`` takes, websockets' ServerProtocol reads as the same request (path, headers,
offered subprotocols) and accepts with the same Sec-WebSocket-Accept. Requests are a charge
point's with bytes inserted anywhere, and the socket tests' mixes of parts."""

from __future__ import annotations

import base64

from helpers.upgrade_requests import request, requests
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.headers import parse_subprotocol
from websockets.http11 import MAX_NUM_HEADERS, Request
from websockets.server import ServerProtocol

from trio_ocpp._core.upgrade_request import accept_key, parse_upgrade

COMMON = request(after=b"\x88\x80abcd")


def agree(data: bytes) -> bool:
    """Whether the fast path takes ``data``; if it does, websockets reads it alike."""
    fast = parse_upgrade(data, 4096, MAX_NUM_HEADERS)
    if fast is None:
        return False
    protocol = ServerProtocol()
    protocol.receive_data(data)
    [parsed, *_] = protocol.events_received()
    assert isinstance(parsed, Request)
    assert parsed.path == fast.path
    first: dict[str, bytes] = {}
    for name, value in parsed.headers.raw_items():
        first.setdefault(name.lower(), value.encode("latin-1"))
    assert first == fast.headers
    values = parsed.headers.get_all("Sec-WebSocket-Protocol")
    assert tuple(sub for value in values for sub in parse_subprotocol(value)) == fast.subprotocols
    response = protocol.accept(parsed)
    assert response.status_code == 101, response.body
    expected = accept_key(fast.headers["sec-websocket-key"]).decode()
    assert response.headers["Sec-WebSocket-Accept"] == expected
    assert data[: fast.size].endswith(b"\r\n\r\n") and b"\r\n\r\n" not in data[: fast.size - 2]
    return True


def test_a_charge_points_request_is_taken() -> None:
    assert agree(COMMON)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_bytes_inserted_anywhere(data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(COMMON)))
    inserted = data.draw(st.binary(min_size=1, max_size=4) | st.sampled_from(INSERTS))
    agree(COMMON[:at] + inserted + COMMON[at:])


INSERTS = [b" ", b"\t", b"\r", b"\n", b"\r\n", b"\r\n ", b":", b",", b"=", b"\x00", b"\xe9"]


@settings(max_examples=150, deadline=None)
@given(requests())
def test_mixed_requests(data: bytes) -> None:
    agree(data)


def test_keys_of_other_lengths_are_not_taken() -> None:
    for size in (15, 17):
        key = base64.b64encode(b"k" * size).decode()
        lines = request().replace(b"dGhlIHNhbXBsZSBub25jZQ==", key.encode())
        assert parse_upgrade(lines, 4096, MAX_NUM_HEADERS) is None

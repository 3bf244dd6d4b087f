"""Hostile handshakes against the server over real sockets (issue 12, items 5 and 8): what a
peer puts in the request target or the Authorization header reaches the log escaped, and wrong
passwords are slowed."""

from __future__ import annotations

import base64
import functools
import logging

import pytest
import trio

from trio_ocpp import Server, testing, v16


class CentralSystem(v16.ChargePoint):
    pass


serving = functools.partial(testing.serving, CentralSystem)


async def handshake(server: Server, target: str, authorization: bytes | None = None) -> bytes:
    """Send a raw opening handshake; the status line of the answer."""
    lines = [
        f"GET {target} HTTP/1.1".encode(),
        f"Host: 127.0.0.1:{server.port}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
        b"Sec-WebSocket-Protocol: ocpp1.6",
    ]
    if authorization is not None:
        lines.append(b"Authorization: " + authorization)
    with trio.fail_after(30):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(b"\r\n".join(lines) + b"\r\n\r\n")
            answer = b""
            while b"\r\n" not in answer:
                chunk = await stream.receive_some()
                if not chunk:
                    break
                answer += chunk
    return answer.split(b"\r\n", 1)[0]


def basic(username: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{username}:{password}".encode())


async def test_what_the_peer_puts_in_the_handshake_is_escaped_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forged = "/ocpp/CP%0A2026-01-01%20CRITICAL%20forged%1B%5B2J" + "x" * 5000
    with caplog.at_level(logging.INFO, "trio_ocpp"):
        async with serving(basic_auth={"CP_1": "right password here"}) as server:
            await handshake(server, forged, basic("CP_1", "wrong"))
            await handshake(server, "/ocpp/CP_1", basic("\u001b[2J" + "u" * 5000, "x"))
    messages = [r.getMessage() for r in caplog.records if r.name != "trio-websocket"]
    assert any("CP\\n2026-01-01 CRITICAL forged\\x1b[2J" in m for m in messages), messages
    assert any("\\x1b[2Juuu" in m for m in messages), messages
    for message in messages:
        assert message.isprintable(), message[:300]
        assert len(message) < 1000, message[:300]


async def test_an_opening_request_may_not_hold_a_mebibyte() -> None:
    # websockets takes 128 header lines of 8 KiB each: a thousand handshakes, a gigabyte.
    async with serving() as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(b"GET /CP_1 HTTP/1.1\r\nHost: x\r\n")
            with trio.fail_after(5):
                for i in range(100):
                    try:
                        await stream.send_all(f"X-Filler-{i}: ".encode() + b"f" * 8000 + b"\r\n")
                    except trio.BrokenResourceError:
                        break  # answered and closed
                answer = await stream.receive_some()
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


async def test_wrong_passwords_are_slowed_down_over_the_wire() -> None:
    passwords = {"CP_1": "right password one", "CP_2": "right password two"}
    async with serving(basic_auth=passwords) as server:
        assert b" 101 " in await handshake(server, "/ocpp/CP_2", basic("CP_2", passwords["CP_2"]))
        start = trio.current_time()
        for _ in range(5):  # the free failures
            assert b" 401 " in await handshake(server, "/ocpp/CP_1", basic("CP_1", "wrong"))
        assert trio.current_time() - start < 1
        start = trio.current_time()
        assert b" 401 " in await handshake(server, "/ocpp/CP_1", basic("CP_1", "wrong"))
        assert trio.current_time() - start >= 1
        # Another charge point's right password, from the guesser's address, is not slowed.
        start = trio.current_time()
        assert b" 101 " in await handshake(server, "/ocpp/CP_2", basic("CP_2", passwords["CP_2"]))
        assert trio.current_time() - start < 1

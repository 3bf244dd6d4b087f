"""Peer-chosen text in the runtime's log lines (CONFORMANCE 42): escaped, capped, one line each."""

from __future__ import annotations

import logging

import pytest
import trio
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import v16, v21
from trio_ocpp._core.logsafe import FRAME_LIMIT

HOSTILE_ID = "CP\nFAKE 2026 CRITICAL root: \x1b[2J" + "x" * 10_000
FRAMES = [
    '[2,"1","\\n\\u001b[31mNoSuchAction' + "A" * 100_000 + '",{}]',
    '[3,"\\nforged","\\u001b"]',
    '[3,"\\nforged",{}]',
    '[5,"\\nid","GenericError","\\u001b[2J\\n' + "d" * 100_000 + '",{}]',
    '[6,"\\nid","\\u001bNoSuchAction' + "A" * 100_000 + '",{}]',
    "\n" * 50_000,
    "[" + '"\\ud800",' * 50_000 + "1]",
]


@pytest.mark.parametrize("cls", [v16.ChargePoint, v21.ChargePoint])
async def test_every_log_line_is_one_printable_bounded_line(
    cls: type, caplog: pytest.LogCaptureFixture
) -> None:
    cp = cls(HOSTILE_ID, MemoryConnection())
    with caplog.at_level(logging.INFO, "trio_ocpp"):
        async with running(cp) as connection:
            for frame in FRAMES:
                await connection.exchange(frame)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) > len(FRAMES)  # received, sent, warnings
    for message in messages:
        assert message.isprintable(), message[:200]
        assert len(message) < FRAME_LIMIT + 600, message[:200]
        assert message.startswith("CP\\nFAKE"), message[:200]


async def test_repeated_warnings_of_a_connection_are_summarized(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    connection = MemoryConnection()
    cp = v21.ChargePoint("CP_1", connection, max_invalid_frames=10**6)
    for _ in range(500):
        connection.deliver("not json")
        connection.deliver('[3,"unknown",{}]')
    connection.hang_up()
    with caplog.at_level(logging.WARNING, "trio_ocpp"), trio.fail_after(5):
        await cp.start()  # reads them all, then summarizes as the connection ends
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) <= 2 * 10 + 2, messages
    assert "CP_1: ... 490 more like '%s: invalid frame (%s)' in the last 0 s" in messages
    assert any(m.startswith("CP_1: ... 490 more like '%s: dropping response") for m in messages)

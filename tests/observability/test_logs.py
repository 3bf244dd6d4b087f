"""Logs for operators: one JSON object per line with the frame's fields, the worker on every
line, and frames moved to DEBUG on request; the runtime's own frame lines, a real server."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio
from helpers.cluster_parts import Csms, Station
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp.observability.logs import FRAME_LOGGER, FramesAtDebug, JsonFormatter
from trio_ocpp.testing import serving
from trio_ocpp.v201 import call


@contextmanager
def root_logging(level: int, formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """The root logger at ``level`` writing through ``formatter`` into the stream yielded."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


async def heartbeat_through_a_server() -> None:
    async with serving(Csms) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with trio_ocpp.connect(url, Station, identity="CP 1") as cp:
            await cp.call(call.Heartbeat())


async def test_a_json_line_per_record_with_the_frames_fields() -> None:
    with root_logging(logging.INFO, JsonFormatter()) as stream:
        await heartbeat_through_a_server()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all({"time", "level", "logger", "worker", "text"} <= line.keys() for line in lines)
    assert {line["worker"] for line in lines} == {"main"}
    frames = [line for line in lines if "direction" in line]
    # Both sides of one Heartbeat, as the client and the server logged them.
    calls = [f for f in frames if f.get("action") == "Heartbeat"]
    assert {f["direction"] for f in calls} == {"in", "out"}
    assert all(f["identity"] == "CP 1" and f["level"] == "INFO" for f in calls)
    assert len({f["message_id"] for f in frames}) == 1  # the CALL and its CALLRESULT
    assert any(f["text"].startswith('CP 1: send [3,"') for f in frames)


def frame_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if "receive message" in line]


async def test_frames_at_debug_leave_info_quiet_and_show_at_debug() -> None:
    frames_filter = FramesAtDebug()
    logging.getLogger(FRAME_LOGGER).addFilter(frames_filter)
    plain = logging.Formatter("%(levelname)s %(message)s")
    try:
        with root_logging(logging.INFO, plain) as info:
            await heartbeat_through_a_server()
        with root_logging(logging.DEBUG, plain) as debug:
            await heartbeat_through_a_server()
    finally:
        logging.getLogger(FRAME_LOGGER).removeFilter(frames_filter)
    assert "connected" in info.getvalue()  # INFO still has what is not a frame
    assert frame_lines(info) == []
    assert frame_lines(debug) and all(line.startswith("DEBUG ") for line in frame_lines(debug))


async def test_the_cli_writes_json_lines_naming_each_worker() -> None:
    port = free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-format", "json", "--versions", "2.0.1"]
    process = await trio.lowlevel.open_process(command, stderr=subprocess.PIPE)
    output = b""
    try:
        with trio.fail_after(30):
            await wait_listening(port)
            async with trio_ocpp.connect(f"ws://127.0.0.1:{port}/", Station, identity="CP9") as cp:
                await cp.call(call.Heartbeat())
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        with trio.fail_after(20):
            async for chunk in process.stderr:
                output += chunk
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines: list[dict[str, Any]] = [json.loads(line) for line in output.decode().splitlines()]
    workers = {line["worker"] for line in lines}
    assert "supervisor" in workers and workers <= {"supervisor", "worker 0", "worker 1"}
    [boot] = [line for line in lines if line.get("action") == "Heartbeat"]
    assert boot["identity"] == "CP9" and boot["worker"].startswith("worker ")

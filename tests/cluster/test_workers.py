"""Workers: sockets they share (SO_REUSEPORT lets several bind one port and each accept), a
worker that fails at start, and the command line without the cluster's extra."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from helpers.processes import first_worker_fails
from helpers.redis_server import free_port

from trio_ocpp.__main__ import parse_args
from trio_ocpp.workers import WorkerStartError, open_reuse_port_listeners, run_workers


async def test_several_listeners_share_one_port_and_each_accepts() -> None:
    port = free_port()
    first = await open_reuse_port_listeners(port, "127.0.0.1")
    second = await open_reuse_port_listeners(port, "127.0.0.1")  # refused without SO_REUSEPORT
    accepted: set[int] = set()
    async with trio.open_nursery() as nursery:
        for index, listeners in enumerate((first, second)):

            async def accept(listener: trio.SocketListener, index: int = index) -> None:
                while True:
                    stream = await listener.accept()
                    accepted.add(index)
                    await stream.aclose()

            nursery.start_soon(accept, listeners[0])
        with trio.fail_after(10):
            while accepted != {0, 1}:  # the kernel spreads connections by their addresses
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.aclose()
        nursery.cancel_scope.cancel()
    for listener in first + second:
        await listener.aclose()


def test_the_command_line_options_of_workers_and_the_cluster() -> None:
    args = parse_args(["--workers", "2", "--cluster", "redis://h:1", "--cluster-events", "A, B"])
    assert (args.workers, args.cluster, args.cluster_events) == (2, "redis://h:1", ("A", "B"))
    assert parse_args([]).workers == 0  # one process, as before
    with pytest.raises(SystemExit):
        parse_args(["--cluster-events", "A"])  # needs --cluster


def test_a_worker_failing_at_start_again_and_again_stops_the_supervisor_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "trio_ocpp.workers")
    cause = r"FileNotFoundError: \[Errno 2\] No such file or directory: '/nonexistent/cert"
    with pytest.raises(
        WorkerStartError, match=rf"^worker 0 failed to start 3 times in a row: {cause}"
    ):
        run_workers(
            first_worker_fails,
            2,
            "127.0.0.1",
            free_port(),
            restart_delay=0.01,
            grace_period=5,
            max_failed_starts=3,
        )
    lines = [record.getMessage() for record in caplog.records]
    failed = [line for line in lines if line.startswith("worker 0 (pid")]
    assert len(failed) == 2
    # The traceback once; then a line each time.
    assert " at start (1 of 3 in a row): FileNotFoundError: " in failed[0]
    assert "\nTraceback (most recent call last):" in failed[0]
    assert " at start (2 of 3 in a row): FileNotFoundError: " in failed[1]
    assert "\n" not in failed[1]
    (error,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.startswith("worker 0 failed to start 3 times in a row: FileNotFoundError: ")
    assert error.endswith("; stopping") and "\n" not in error
    # Worker 1 ran all along, and stopped when asked.
    assert sum(line.startswith("worker 1 started") for line in lines) == 1
    assert not [line for line in lines if "did not stop in time" in line]


def test_without_the_redis_extra_the_command_line_says_so_once(tmp_path: Path) -> None:
    # A glide that cannot be imported, as when valkey-glide is not installed.
    (tmp_path / "glide").mkdir()
    (tmp_path / "glide" / "__init__.py").write_text("raise ImportError('No module named glide')")
    command = [sys.executable, "-m", "trio_ocpp", "--workers", "2", "--port", str(free_port())]
    command += ["--cluster", "redis://127.0.0.1:1"]
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=30)
    assert run.returncode == 2
    # One line, before any worker started; no traceback.
    assert run.stderr.splitlines() == [
        "python -m trio_ocpp: error: --cluster: trio_ocpp.cluster needs valkey-glide: pip "
        'install "trio-ocpp[redis]" (No module named glide)'
    ]

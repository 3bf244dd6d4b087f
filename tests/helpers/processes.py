"""Servers in processes of their own: a free port, waiting until one listens, and workers."""

from __future__ import annotations

import multiprocessing
import signal
import socket
from pathlib import Path

import trio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_listening(port: int) -> None:
    while True:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            await trio.sleep(0.02)
        else:
            await stream.aclose()
            return


async def first_worker_fails(listeners: list[trio.SocketListener]) -> None:
    """A worker of ``trio_ocpp.workers.run_workers``: worker 0 fails as it starts (a file that
    is not there), the others wait to be stopped."""
    if multiprocessing.current_process().name == "worker 0":
        Path("/nonexistent/certificate.pem").read_bytes()
    await trio.sleep_forever()


async def stop(process: trio.Process, grace_period: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``grace_period`` seconds."""
    process.send_signal(signal.SIGTERM)
    with trio.move_on_after(grace_period):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()

"""Recording a server's (or a client's) traffic as JSON Lines, to replay it later.

:func:`open_recorder` yields an observer; install it on a ``Server`` (``observers=[...]``) or a
connection. Each frame becomes a line of ``<identity>.jsonl`` in the directory::

    {"time": 1767225600.123, "identity": "CP_1", "version": "2.0.1", "side": "server",
     "direction": "inbound", "frame": "[2,\\"1\\",\\"Heartbeat\\",{}]"}

``side`` is ours (``server``: the peer is a charge point), ``direction`` is ``inbound`` for
what the peer sent. The observer only queues the line (an observer must not block its
connection); a task of the recorder's writes them, in a thread, in batches. When the queue is
full, lines are dropped and counted (``Recorder.dropped``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import trio

from .._core.frames import Frame
from .._runtime.observe import ConnectionInfo, Direction, Observer

__all__ = ["Recorder", "file_name", "open_recorder"]

#: Lines queued for the writer, at most.
MAX_PENDING = 10_000
#: Characters of an identity kept in a file name (a peer chooses it).
NAME_LIMIT = 100


def file_name(identity: str) -> str:
    """The recording's file of ``identity``: percent-encoded, so that no identity names a
    path elsewhere (``..``, ``/``), and capped."""
    return quote(identity, safe="")[:NAME_LIMIT] + ".jsonl"


class Recorder(Observer):
    """The observer :func:`open_recorder` yields."""

    def __init__(self, directory: Path, queue: trio.MemorySendChannel[tuple[str, str]]) -> None:
        self.directory = directory
        self._queue = queue
        #: Lines dropped because the writer fell behind.
        self.dropped = 0

    def _record(
        self, connection: ConnectionInfo, direction: Direction, text: str | bytes, at: float
    ) -> None:
        line = json.dumps(
            {
                "time": at,
                "identity": connection.identity,
                "version": connection.version,
                "side": connection.side,
                "direction": direction.value,
                "frame": text if isinstance(text, str) else text.decode("utf-8", "replace"),
            }
        )
        try:
            self._queue.send_nowait((file_name(connection.identity), line))
        except (trio.WouldBlock, trio.ClosedResourceError):
            self.dropped += 1

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        self._record(connection, Direction.INBOUND, text, at)

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        self._record(connection, Direction.OUTBOUND, text, at)


def _append(directory: Path, lines: list[tuple[str, str]]) -> None:
    by_file: dict[str, list[str]] = {}
    for name, line in lines:
        by_file.setdefault(name, []).append(line + "\n")
    for name, text in by_file.items():
        with open(directory / name, "a", encoding="utf-8") as out:
            out.writelines(text)


def _queued(lines: trio.MemoryReceiveChannel[tuple[str, str]]) -> list[tuple[str, str]]:
    """The lines waiting in the queue, taken without waiting."""
    taken = []
    while True:
        try:
            taken.append(lines.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return taken


async def _write(directory: Path, lines: trio.MemoryReceiveChannel[tuple[str, str]]) -> None:
    try:
        async for first in lines:
            await trio.to_thread.run_sync(_append, directory, [first, *_queued(lines)])
    finally:
        # Cancelled (the server stops): what is still queued is written here, at once.
        rest = _queued(lines)
        if rest:
            _append(directory, rest)


@asynccontextmanager
async def open_recorder(
    directory: str | Path, *, max_pending: int = MAX_PENDING
) -> AsyncIterator[Recorder]:
    """A :class:`Recorder` writing into ``directory`` (made if missing) for the block; what
    was queued is written before the block ends."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    send, receive = trio.open_memory_channel[tuple[str, str]](max_pending)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_write, directory, receive)
        try:
            yield Recorder(directory, send)
        finally:
            send.close()  # the writer ends once it wrote the rest

"""What the operator's HTTP side knows of the connections: an Observer that keeps, per
identity, the connection's description and its last frame, and hands each frame to those
watching it (the live page's event streams).

A watcher gets a bounded channel; one that falls behind loses frames (counted), never holds up
the connection: observers run on the connection's task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import attrs
import trio

from .._core.frames import Frame
from .._core.logsafe import FRAME_LIMIT, escape
from .._runtime.observe import ConnectionInfo, Observer

__all__ = ["Feed", "Seen"]


@attrs.define
class Seen:
    """A connection as the feed saw it."""

    info: ConnectionInfo
    last_frame_at: float | None = None


class Feed(Observer):
    """See the module docstring. ``backlog``: frames a watcher may have unread."""

    def __init__(self, backlog: int = 256) -> None:
        self.connections: dict[str, Seen] = {}
        self.dropped = 0
        self._backlog = backlog
        self._watchers: dict[str, set[trio.MemorySendChannel[dict[str, Any]]]] = {}

    @contextlib.contextmanager
    def watch(self, identity: str) -> Iterator[trio.MemoryReceiveChannel[dict[str, Any]]]:
        """The frames of ``identity`` from now on, while the block runs."""
        send, receive = trio.open_memory_channel[dict[str, Any]](self._backlog)
        watchers = self._watchers.setdefault(identity, set())
        watchers.add(send)
        try:
            yield receive
        finally:
            watchers.discard(send)
            if not watchers:
                del self._watchers[identity]

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.connections[connection.identity] = Seen(connection)

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        seen = self.connections.get(connection.identity)
        if seen is not None and seen.info is connection:  # not a newer one that replaced it
            del self.connections[connection.identity]
        self._tell(connection.identity, {"closed": code, "reason": escape(reason)})

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        self._frame(connection, "in", text, at)

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        self._frame(connection, "out", text, at)

    def _frame(self, connection: ConnectionInfo, direction: str, text: object, at: float) -> None:
        seen = self.connections.get(connection.identity)
        if seen is not None:
            seen.last_frame_at = at
        if connection.identity in self._watchers:
            event = {"direction": direction, "at": at, "text": escape(text, FRAME_LIMIT)}
            self._tell(connection.identity, event)

    def _tell(self, identity: str, event: dict[str, Any]) -> None:
        for watcher in self._watchers.get(identity, ()):
            try:
                watcher.send_nowait(event)
            except trio.WouldBlock:
                self.dropped += 1

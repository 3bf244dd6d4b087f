"""The frames of a test, in order, for its failure messages and its report."""

from __future__ import annotations

from .._core.frames import Frame
from .._core.logsafe import escape
from .._runtime.observe import ConnectionInfo, Observer

__all__ = ["LEGEND", "FrameLog"]

#: Characters of one frame shown in a failure message.
SHOWN = 300
#: What the arrows of ``str(FrameLog)`` say.
LEGEND = "-> sent by the charge point, <- by the central system"


class FrameLog(Observer):
    """Frames as they went by: ``(sender, identity, text)``, sender ``"charge point"`` or
    ``"central system"``. As an observer (of either side) it logs a connection's frames."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str | bytes]] = []

    def add(self, sender: str, identity: str, text: str | bytes) -> None:
        self.entries.append((sender, identity, text))

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Frame | None, at: float
    ) -> None:
        peer = "charge point" if connection.side == "server" else "central system"
        self.add(peer, connection.identity, text)

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Frame, at: float) -> None:
        us = "central system" if connection.side == "server" else "charge point"
        self.add(us, connection.identity, text)

    def __str__(self) -> str:
        if not self.entries:
            return "  (no frames)"
        return "\n".join(
            f"  {escape(identity, 60)} {'->' if sender == 'charge point' else '<-'} "
            f"{escape(text, SHOWN)}"
            for sender, identity, text in self.entries
        )

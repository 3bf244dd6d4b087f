"""What the cluster needs from a broker: the interface an engine implements, and its errors.

Membership is a key per identity, ``"<node> <stamp>"``, with an expiry its node refreshes; the
stamp is when the connection was accepted, in microseconds of the broker's clock
(:mod:`~trio_ocpp.cluster._clock`), and the newer stamp wins whatever order claims arrive in. Each
node (each :func:`~trio_ocpp.cluster.connect`) listens on one channel of its own: calls for the
charge points it holds, replies to the calls it made, and notices that a newer connection on
another node replaced one of its charge points. Events go into one append-only stream read by
consumer groups. Only Redis (Valkey) is built: :mod:`trio_ocpp.cluster._redis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from .._core.errors import ClusterUnavailableError as ClusterUnavailableError
from .._core.errors import NotConnectedError as NotConnectedError

__all__ = ["Broker", "ClusterUnavailableError", "NotConnectedError", "StreamEntry"]


#: One stream entry: its id and its fields.
StreamEntry = tuple[str, Mapping[bytes, bytes]]


class Broker(Protocol):
    """A broker engine, bound to one node id. Every method raises
    :class:`ClusterUnavailableError` when the broker cannot be reached."""

    async def claim(self, held: Sequence[tuple[str, str]], ttl: float) -> list[tuple[int, str]]:
        """Record ``(identity, value)`` pairs for ``ttl`` seconds, or extend them: each pair
        whose value is newer than the recorded one (or that no value holds) is recorded, and the
        node whose value it replaces gets a notice ``{"t": "replaced", "cp": identity, "owner":
        its value, "by": the new value}``; an older one is not. Returns the index of each pair
        not recorded, with the newer value that holds its identity."""

    async def release(self, held: Sequence[tuple[str, str]]) -> None:
        """Remove the identities that still have these values."""

    async def members(self) -> dict[str, str]:
        """Every recorded identity and its value."""

    async def route(self, identity: str, message: bytes) -> tuple[str | None, int]:
        """Send ``message`` to the node that holds ``identity``: that node, and how many
        listeners got the message (0: the node is gone); (None, 0) when no node holds it."""

    async def send(self, node: str, message: bytes) -> int:
        """Send ``message`` to ``node``: how many listeners got it."""

    async def listening(self, nodes: Sequence[str]) -> list[bool]:
        """Whether each of ``nodes`` is listening now."""

    async def subscribe(self) -> None:
        """Listen on this node's channel, also after reconnections."""

    async def receive(self) -> bytes:
        """The next message sent to this node (once subscribed)."""

    async def time(self) -> float:
        """The broker's clock: Unix time in seconds."""

    async def append(
        self, entries: Sequence[Sequence[tuple[str, str]]], maxlen: int, max_bytes: int
    ) -> dict[str, int]:
        """Append entries (field, value pairs) to the event stream, then trim its oldest
        entries until it holds at most ``maxlen`` entries and ``max_bytes`` bytes of fields.
        Returns, for each consumer group that had not yet been given some of the trimmed
        entries, how many."""

    async def create_group(self, group: str, start: str) -> None:
        """Make consumer group ``group`` (and the stream) unless it exists: it delivers the
        entries after ``start`` ("$": from now on, "0": all)."""

    async def read_group(
        self, group: str, consumer: str, after: str | None, count: int, block: float
    ) -> list[StreamEntry]:
        """Entries for ``consumer`` of ``group`` (made again from "0" if the stream was lost):
        its own unacknowledged ones after the id ``after``, or with None new ones, waiting up
        to ``block`` seconds for some."""

    async def take_over(
        self, group: str, consumer: str, idle: float, count: int
    ) -> list[StreamEntry]:
        """Entries of ``group`` given to a consumer and not acknowledged for ``idle`` seconds:
        given to ``consumer`` now."""

    async def ack(self, group: str, ids: Sequence[str]) -> None:
        """Acknowledge entries: ``group`` will not deliver them again."""

"""``connected_pair``: a central system and a charge point, both ours, joined in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import trio

from .._core.ungroup import ungroup
from .._core.versions import SUBPROTOCOLS, OCPPVersion, normalize_version
from .._runtime.charge_point import ChargePoint
from .._runtime.observe import ConnectionInfo, Observer
from .frames_log import FrameLog
from .memory import MemoryConnection, memory_connections

__all__ = ["Opened", "Pair", "connected_pair", "pick_class", "with_observers"]

CS = TypeVar("CS", bound=ChargePoint)
ST = TypeVar("ST", bound=ChargePoint)

C = TypeVar("C", bound=ChargePoint)
#: What a central system is given as: one class, or one per version (as ``Server`` takes them).
Classes = type[C] | Iterable[type[C]] | Mapping[str, type[C]]


def pick_class(classes: Classes[C], version: str | None) -> type[C]:
    """The class of ``version`` among ``classes`` (None: the only, or first, one)."""
    candidates: list[type[C]]
    if isinstance(classes, type):
        candidates = [classes]
    elif isinstance(classes, Mapping):
        candidates = list(classes.values())
    else:
        candidates = list(classes)
    if version is None:
        return candidates[0]
    wanted = normalize_version(version)
    for cls in candidates:
        if cls._ocpp_version == wanted:
            return cls
    raise ValueError(f"no class for OCPP {wanted} among {[c.__name__ for c in candidates]}")


class Pair(Generic[CS, ST]):
    """Two running ChargePoints on one in-memory connection."""

    def __init__(self, csms: CS, station: ST, frames: FrameLog) -> None:
        #: The central system's side (the class given first).
        self.csms = csms
        #: The charge point's side.
        self.station = station
        #: Every frame, in order (``str(pair.frames)`` shows them).
        self.frames = frames

    def hang_up(self) -> None:
        """Drop the connection without a closing handshake (1006), as a lost network does."""
        connection = self.station.connection
        assert isinstance(connection, MemoryConnection)
        connection.hang_up()


class Opened(Observer):
    """Set once the connection it observes opened: ``start()`` has no ``task_status``."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.event.set()


def with_observers(options: Mapping[str, Any], *more: Observer) -> dict[str, Any]:
    """``options`` with ``more`` added to its ``observers``."""
    return {**options, "observers": [*options.get("observers", ()), *more]}


@asynccontextmanager
async def connected_pair(
    csms_class: Classes[CS],
    station_class: type[ST],
    identity: str = "CP_1",
    version: str | None = None,
    *,
    csms_options: Mapping[str, Any] | None = None,
    station_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[Pair[CS, ST]]:
    """Run ``csms_class`` and ``station_class`` on the two ends of an in-memory connection for
    the block, and yield them as a :class:`Pair`.

    The frames travel as text through what a socket connection goes through: parsing,
    validation both ways, casing, routing, ``@after``, ``connected()``/``disconnected()``,
    observers and timeouts; only the WebSocket framing and keep-alive are left out, so that a
    test takes milliseconds and runs under pytest-trio's ``autojump_clock``.

    ``csms_class`` may be one class or several (a list or a version mapping, as ``Server``
    takes them): ``version`` (default: the station class's) picks one. ``options`` are given
    to both ChargePoints (``response_timeout=``, ``observers=``...), ``csms_options`` and
    ``station_options`` to one. Leaving the block closes the connection (1000) and waits for
    both sides' ``disconnected()``; an exception raised in the block comes out as itself.
    """
    version = version or station_class._ocpp_version
    cs_class = pick_class(csms_class, version)
    wanted: OCPPVersion = normalize_version(version)
    if station_class._ocpp_version != wanted:
        raise ValueError(f"{station_class.__name__} speaks {station_class._ocpp_version}")
    log = FrameLog()
    server_end, client_end = memory_connections(SUBPROTOCOLS[wanted])
    cs_open, st_open = Opened(), Opened()
    csms = cs_class(
        identity, server_end, **with_observers({**options, **(csms_options or {})}, log, cs_open)
    )
    station = station_class(
        identity, client_end, **with_observers({**options, **(station_options or {})}, st_open)
    )
    async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
        nursery.start_soon(csms.start)
        nursery.start_soon(station.start)
        await cs_open.event.wait()
        await st_open.event.wait()
        try:
            yield Pair(csms, station, log)
        finally:
            with trio.CancelScope(shield=True):
                await station.aclose()

"""Who keeps a connection slot when they run out: the server's admission policy.

A server has two limits: ``max_handshakes``, connections between accept and the end of their
opening handshake, and ``max_connections``, every connection it holds (handshakes included); the
file descriptor limit is a third, met in ``accept()``. A limit that refuses newcomers lets one
address lock the fleet out: a thousand sockets that never send a byte, or upgraded connections
that never boot, keep every charge point out for as long as they are held. So at a limit the
newcomer is not refused: a connection that has not proven itself is closed to make room.

A connection proves itself with its first CALL answered with a CALLRESULT (a charge point boots
first); from then on it is never closed to make room. Among the others, the first to go is one
upgraded more than ``boot_timeout`` seconds ago, then whichever has waited longest since accept,
pending handshake or upgraded: an attacker holding slots holds old ones, while a charge point
takes milliseconds from accept to its BootNotification's answer. To push a charge point out, an
attacker would have to open more connections than the limit within that time. Nobody is
protected for a while after accept: a grace of G seconds would let an attacker who reconnects
faster than limit / G connections a second keep every slot young, and every newcomer out.

There are no per-address caps: behind a NAT, and on loopback, the attacker and the charge points
share one address, and the outcome must hold there too.
"""

from __future__ import annotations

import math
import resource
import sys

import attrs
import trio

from .._runtime.ending import Ending

__all__ = [
    "DESCRIPTOR_RESERVE",
    "Admission",
    "AdmissionStatistics",
    "Ticket",
    "default_max_connections",
]

#: Descriptors kept free once ``accept()`` ran out of them: see ``out_of_descriptors``.
DESCRIPTOR_RESERVE = 8


def default_max_connections() -> int | None:
    """Connections a server holds when not told: what the descriptor limit leaves once a
    reserve for the application (log files, database and broker connections) is set aside."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, soft - max(32, soft // 16))


@attrs.define(eq=False, slots=True)
class Ticket(Ending):
    """One TCP connection, from accept to close."""

    accepted_at: float
    #: The peer's ``host:port`` and, once known, its identity (escaped): for log lines.
    peer: str = ""
    identity: str = ""
    #: Cancelled to close the connection when room is made (its handler runs inside it).
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    upgraded_at: float = math.inf
    proven: bool = False
    #: Closed to make room; ended (``_ended_signal()``) once its handler has let the socket go.
    evicted: bool = False
    _ended_event: trio.Event | None = attrs.field(default=None, init=False)
    _has_ended: bool = attrs.field(default=False, init=False)
    #: While its opening request is read: the log line for when the time for it runs out,
    #: with the limit; once it ran out, in ``timed_out``.
    reading: tuple[str, float] | None = None
    timed_out: tuple[str, float] | None = None

    def __str__(self) -> str:
        return f"{self.peer} ({self.identity})" if self.identity else self.peer

    @property
    def id(self) -> str:
        return str(self)

    def alarm(self, at: float, now: float) -> None:
        """The server's watchdog woke it at its request's deadline: if the request is still
        being read, the connection ends. A watchdog alarm, not a cancel scope around the read:
        a scope costs a storm's connection a fiftieth of its CPU."""
        if self.reading is not None:
            self.timed_out, self.reading = self.reading, None
            self.scope.cancel()


@attrs.frozen
class AdmissionStatistics:
    """A snapshot of a server's admission counters (``Server.admission_statistics()``)."""

    connections: int  # held now: handshakes and upgraded connections
    handshakes: int  # of which between accept and upgrade
    unproven: int  # upgraded, no CALL answered yet
    evicted: int  # closed to make room since the server started
    refused: int  # newcomers refused: nothing could be closed for them


class Admission:
    """The connections of one server, in the order that decides who goes first."""

    def __init__(
        self, max_handshakes: int | None, max_connections: int | None, boot_timeout: float
    ) -> None:
        self.max_handshakes = max_handshakes
        self.max_connections = max_connections
        self.boot_timeout = boot_timeout
        # Insertion-ordered: the first key is the oldest (accepted, upgraded).
        self._handshaking: dict[Ticket, None] = {}
        self._unproven: dict[Ticket, None] = {}
        self.connections = 0
        self.evicted = 0
        self.refused = 0

    def statistics(self) -> AdmissionStatistics:
        return AdmissionStatistics(
            connections=self.connections,
            handshakes=len(self._handshaking),
            unproven=len(self._unproven),
            evicted=self.evicted,
            refused=self.refused,
        )

    # -- a connection's life -------------------------------------------------------------------

    def accepted(self, now: float) -> Ticket | None:
        """A new connection: its ticket, or None to refuse it at once (``max_handshakes`` is
        0)."""
        if (
            self.max_handshakes is not None
            and len(self._handshaking) >= self.max_handshakes
            and not self._evict(self._oldest(self._handshaking))
        ):
            self.refused += 1
            return None
        ticket = Ticket(now)
        self._handshaking[ticket] = None
        self.connections += 1
        if self.max_connections is not None and self.connections > self.max_connections:
            # Room now if possible; if not, its request is answered with 503 (``room_for``),
            # unless a newer connection closed it first: past the limit there is one at most.
            self.make_room(now, keep=ticket)
        return ticket

    def room(self) -> int:
        """How many more connections fit now, within both limits, without closing one."""
        free = [
            limit - held
            for limit, held in (
                (self.max_handshakes, len(self._handshaking)),
                (self.max_connections, self.connections),
            )
            if limit is not None
        ]
        return min(free, default=sys.maxsize)

    def room_for(self, ticket: Ticket, now: float) -> bool:
        """Whether ``ticket``, about to be upgraded, fits under ``max_connections``, once
        another connection was closed for it if need be."""
        if self.max_connections is None or self.connections <= self.max_connections:
            return True
        if self.make_room(now, keep=ticket):
            return True
        self.refused += 1
        return False

    def upgraded(self, ticket: Ticket, now: float) -> None:
        if ticket in self._handshaking:  # not closed to make room meanwhile
            del self._handshaking[ticket]
            ticket.upgraded_at = now
            self._unproven[ticket] = None

    def proven(self, ticket: Ticket) -> None:
        """Its first CALL was answered: a charge point, never closed to make room."""
        ticket.proven = True
        self._unproven.pop(ticket, None)

    def closed(self, ticket: Ticket) -> None:
        """The connection's handler let its socket go."""
        if not ticket.evicted:  # an evicted one left the count when it was chosen
            self._forget(ticket)
        ticket._mark_ended()

    # -- making room ---------------------------------------------------------------------------

    def out_of_descriptors(self, now: float) -> list[Ticket]:
        """``accept()`` found no descriptor: what the process has is its limit, less a reserve
        for the rest of the application (a schema file opened on first use, a database
        connection). ``max_connections`` becomes that for good, and connections that have not
        proven themselves are closed down to it: those closed."""
        self.max_connections = max(1, self.connections - DESCRIPTOR_RESERVE)
        closed = []
        while self.connections > self.max_connections:
            ticket = self.make_room(now)
            if ticket is None:
                break
            closed.append(ticket)
        return closed

    def make_room(self, now: float, keep: Ticket | None = None) -> Ticket | None:
        """Close the connection least likely to be a charge point (the module docstring says
        which), never ``keep``: the one closed, or None if none may be."""
        unproven = self._unproven
        if unproven:
            first = next(iter(unproven))
            if now - first.upgraded_at >= self.boot_timeout and self._evict(first):
                return first
        candidates = [
            t
            for t in (self._oldest(self._handshaking, keep), self._oldest(unproven, keep))
            if t is not None
        ]
        if not candidates:
            return None
        chosen = min(candidates, key=lambda t: t.accepted_at)
        self._evict(chosen)
        return chosen

    @staticmethod
    def _oldest(tickets: dict[Ticket, None], keep: Ticket | None = None) -> Ticket | None:
        """The oldest of ``tickets`` other than ``keep``."""
        for ticket in tickets:
            if ticket is not keep:
                return ticket
        return None

    def _evict(self, ticket: Ticket | None) -> bool:
        if ticket is None:
            return False
        ticket.evicted = True
        ticket.scope.cancel()
        self._forget(ticket)
        self.evicted += 1
        return True

    def _forget(self, ticket: Ticket) -> None:
        self._handshaking.pop(ticket, None)
        self._unproven.pop(ticket, None)
        self.connections -= 1

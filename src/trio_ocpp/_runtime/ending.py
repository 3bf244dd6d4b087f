"""Something that ends once, which others may wait for: a connection's ticket, a ChargePoint.

A ``trio.Event`` would do, but a server holds one of these per connection, and an Event is two
objects for the cyclic collector to visit (itself and its set of waiters) that most never use:
here the Event is made only for a waiter that comes before the end.
"""

from __future__ import annotations

import trio

__all__ = ["Ending"]


class Ending:
    """Mixin: :meth:`_mark_ended` once; :meth:`_ended_signal` is set once it was called. A
    slotted class declares the two attributes with these start values."""

    _ended_event: trio.Event | None = None  # made for a waiter that comes first
    _has_ended: bool = False

    def _mark_ended(self) -> None:
        self._has_ended = True
        if self._ended_event is not None:
            self._ended_event.set()

    def _ended_signal(self) -> trio.Event:
        """An Event set once this has ended (already, if it has): one to hold without holding
        this object."""
        if self._ended_event is None:
            self._ended_event = trio.Event()
            if self._has_ended:
                self._ended_event.set()
        return self._ended_event

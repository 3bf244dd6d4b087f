"""What a peer did on its connection: the counters, and the balance of its invalid frames.

The balance closes a peer whose invalid or unanswerable frames outnumber its valid ones by
``max_invalid_frames`` (CONFORMANCE 25). What the peer can make us warn about again and again is
summarized past a burst (CONFORMANCE 42): by a limiter of the connection's own, or by its
server's (:meth:`Conduct.share`), whose budget an identity keeps when it reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .._core import close_codes
from .._core.logsafe import RepeatLimiter, escape
from .watchdog import Watchdog

__all__ = ["Conduct"]


@attrs.define(eq=False)
class Conduct:
    """A connection's counters of the peer's frames, and its warnings about them."""

    id: str
    logger: logging.Logger
    max_invalid_frames: int
    warnings: RepeatLimiter = attrs.field(init=False)
    #: ``warnings`` is a server's, shared by its connections: each warns with its identity.
    shared: bool = attrs.field(default=False, init=False)
    frames_received: int = attrs.field(default=0, init=False)
    errors_received: int = attrs.field(default=0, init=False)  # CALLERROR / CALLRESULTERROR
    invalid_frames: int = attrs.field(default=0, init=False)  # not valid OCPP-J RPC
    unmatched_responses: int = attrs.field(default=0, init=False)  # an unknown or late id
    #: Invalid or unanswerable frames less valid ones, never below 0.
    misbehaviour: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self.warnings = RepeatLimiter(self.logger, escape(self.id))

    def share(self, limiter: RepeatLimiter) -> None:
        """Warn through ``limiter`` (a server's), with the identity as the source: a peer that
        reconnects does not get a new budget with each connection."""
        self.warnings = limiter
        self.shared = True

    def start(self, watchdog: Watchdog) -> None:
        if not self.shared:
            self.warnings.alarms = watchdog  # summaries at each period's end

    def warn(self, message: str, *args: Any) -> None:
        """A warning the peer can make us repeat at will."""
        source = self.id if self.shared else ""
        now = trio.current_time()
        self.warnings.warning(now, message, *args, source=source, logger=self.logger)

    def flush(self) -> None:
        """The connection ends: the summaries its own limiter still holds."""
        if not self.shared:
            self.warnings.flush(trio.current_time())

    def behaved(self) -> None:
        """A valid frame: it offsets one invalid or unanswerable frame."""
        if self.misbehaviour:
            self.misbehaviour -= 1

    async def misbehaved(self, close: Callable[[int, str], Awaitable[object]]) -> None:
        """A frame that was invalid, or that nobody could answer (a response to no call of
        ours, a SEND nobody handled): a peer whose such frames outnumber its valid ones by
        ``max_invalid_frames`` is closed with ``close(1002, reason)`` (CONFORMANCE 25, with a
        few valid frames mixed in counted too)."""
        self.misbehaviour += 1
        if self.misbehaviour == self.max_invalid_frames:
            self.warn(
                "%s: %d more invalid or unanswerable frames than valid ones, closing",
                escape(self.id),
                self.misbehaviour,
            )
            await close(close_codes.PROTOCOL_ERROR, "too many invalid frames")

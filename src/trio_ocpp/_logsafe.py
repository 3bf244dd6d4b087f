"""Peer-chosen text made safe for a log line, and repeated warnings summarized (CONFORMANCE 42).

:func:`escape` shows a string as ``repr`` does without its quotes: control characters, line
breaks, terminal escapes and lone surrogates become ``\\n``, ``\\x1b``, ``\\ud800``; printable
text (accents too) is kept. It caps the length, so a 1 MB frame costs a log line of bounded size.
Text that is short and printable, the usual case, is returned as it is after one C-level scan.

:class:`RepeatLimiter` keeps one connection's repeated warnings to a burst per period and
reports the rest as a count. Sans-I/O: the caller passes the time.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = ["FRAME_LIMIT", "TEXT_LIMIT", "RepeatLimiter", "escape"]

#: Characters kept of an identity, id, action or description in a log line.
TEXT_LIMIT: Final = 200
#: Characters kept of a whole frame in a log line.
FRAME_LIMIT: Final = 2000


def escape(text: object, limit: int = TEXT_LIMIT) -> str:
    """``text`` (a str, or bytes shown as ``repr`` shows them) safe for one log line: at most
    ``limit`` characters, and a note of the whole length if it was cut."""
    if not isinstance(text, str):
        text = repr(text)  # bytes and other values: repr escapes them already
        if len(text) <= limit:
            return text
    elif len(text) <= limit and text.isprintable():
        return text
    shown = repr(text[:limit])[1:-1]  # repr escapes exactly the characters isprintable refuses
    if len(text) <= limit and len(shown) <= limit:
        return shown
    # Escapes make the text longer (\ud800 is six characters): the line is capped, not the input.
    return f"{shown[:limit]}...[{len(text)} characters]"


class RepeatLimiter:
    """At most ``burst`` warnings of one kind (their format string) per ``period`` seconds.

    The first warning of a kind opens its period; what comes past the burst in it is counted,
    and the count is logged as one line when the kind is next warned after the period, or at
    :meth:`flush` (when the connection ends). Memory: one entry per kind, and kinds are format
    strings written in the code, not chosen by the peer.
    """

    __slots__ = ("_burst", "_kinds", "_logger", "_period", "_prefix")

    def __init__(
        self, logger: logging.Logger, prefix: str, *, burst: int = 10, period: float = 10.0
    ) -> None:
        self._logger = logger
        self._prefix = prefix  # e.g. the escaped identity, put before each summary
        self._burst = burst
        self._period = period
        # kind -> [start of its period, warnings in it]
        self._kinds: dict[str, list[float]] = {}

    def warning(self, now: float, message: str, *args: Any) -> None:
        """``logger.warning(message, *args)`` unless this kind is over its burst."""
        state = self._kinds.get(message)
        if state is None or now - state[0] >= self._period:
            if state is not None:
                self._summarize(message, state, now)
            state = self._kinds[message] = [now, 0]
        state[1] += 1
        if state[1] <= self._burst:
            self._logger.warning(message, *args)

    def flush(self, now: float) -> None:
        """Log the counts still held (the connection ends)."""
        for message, state in self._kinds.items():
            self._summarize(message, state, now)
        self._kinds.clear()

    def _summarize(self, message: str, state: list[float], now: float) -> None:
        more = int(state[1]) - self._burst
        if more > 0:
            self._logger.warning(
                "%s: ... %d more like %r in the last %.0f s",
                self._prefix,
                more,
                message,
                now - state[0],
            )

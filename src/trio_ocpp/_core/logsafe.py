"""Peer-chosen text made safe for a log line, and repeated warnings summarized (CONFORMANCE 42).

:func:`escape` shows a string as ``repr`` does without its quotes: control characters, line
breaks, terminal escapes and lone surrogates become ``\\n``, ``\\x1b``, ``\\ud800``; printable
text (accents too) is kept. It caps the length, so a 1 MB frame costs a log line of bounded size.
Text that is short and printable, the usual case, is returned as it is after one C-level scan.

:class:`RepeatLimiter` keeps repeated warnings to a burst per kind, source and period, and
reports the rest as a count. Sans-I/O: the caller passes the time.
"""

from __future__ import annotations

import heapq
import logging
from typing import Any, Final, Protocol

__all__ = [
    "FRAME_LIMIT",
    "MAX_SOURCES",
    "RECEIVED_FRAME",
    "SENT_FRAME",
    "TEXT_LIMIT",
    "Alarms",
    "RepeatLimiter",
    "escape",
]

#: Characters kept of an identity, id, action or description in a log line.
TEXT_LIMIT: Final = 200
#: Characters kept of a whole frame in a log line.
FRAME_LIMIT: Final = 2000
#: The log lines of the frames a connection receives and sends (identity, frame), at INFO as the
#: ocpp package writes them; the same objects, so that a filter can tell them (``is``).
RECEIVED_FRAME: Final = "%s: receive message %s"
SENT_FRAME: Final = "%s: send %s"
#: Sources a :class:`RepeatLimiter` tells apart per kind and period; more share one budget. It
#: bounds the log too: a flood from many sources writes at most ``burst`` times this many lines
#: per kind and period (with the server's 5 per 10 s, 125 a second).
MAX_SOURCES: Final = 250
#: Characters of a source kept and shown (an identity, an address).
SOURCE_LIMIT: Final = 64
#: Sources a summary names, those with the most warnings held back first.
SUMMARY_SOURCES: Final = 5


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


class Alarms(Protocol):
    """What wakes a limiter when a period ends: the server's ``Watchdog``."""

    def arm(self, at: float, watched: RepeatLimiter) -> None:
        """Call ``watched.alarm(at, now)`` at ``at``."""


class _Window:
    """One kind's period: warnings by source (None: the sources past ``max_sources``)."""

    __slots__ = ("counts", "end", "start")

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.counts: dict[str | None, int] = {}


class RepeatLimiter:
    """At most ``burst`` warnings per kind (their format string) and source per ``period`` s.

    A source is who the warning is about, as the caller names it: an identity, an address, or
    nothing (``""``: a connection's own limiter). Each source has a budget of its own, so that
    a flood from one source cannot hide the warnings about another. The first warning of a kind
    opens its period; what comes past a source's burst in it is counted, and the counts are
    logged as one line naming the sources with the most: at the end of the period when
    ``alarms`` wakes the limiter (:meth:`expire`), or else when the kind is next warned about,
    and at :meth:`flush` (when the connection ends).

    Memory: kinds are format strings written in the code, not chosen by the peer; per kind and
    period at most ``max_sources`` sources are told apart, each kept to its first
    ``SOURCE_LIMIT`` characters, and the sources past them share one budget, "others". So a
    limiter holds at most ``kinds * (max_sources + 1)`` counts, and logs at most ``burst *
    (max_sources + 1)`` lines and one summary per kind and period.
    """

    __slots__ = (
        "__weakref__",  # the watchdog holds what it wakes weakly
        "_burst",
        "_kinds",
        "_logger",
        "_max_sources",
        "_period",
        "alarms",
        "id",
    )

    def __init__(
        self,
        logger: logging.Logger,
        prefix: str,
        *,
        burst: int = 10,
        period: float = 10.0,
        max_sources: int = MAX_SOURCES,
        alarms: Alarms | None = None,
    ) -> None:
        self._logger = logger
        self.id = prefix  # put before each summary: "server", an escaped identity
        self._burst = burst
        self._period = period
        self._max_sources = max_sources
        self.alarms = alarms
        self._kinds: dict[str, _Window] = {}

    def warning(
        self,
        now: float,
        message: str,
        *args: Any,
        source: str = "",
        logger: logging.Logger | None = None,
    ) -> None:
        """``logger.warning(message, *args)`` unless ``source`` is over its burst of this kind
        (``logger``: the limiter's own when None)."""
        window = self._kinds.get(message)
        if window is None or now >= window.end:
            if window is not None:
                self._summarize(message, window, now)
            window = self._kinds[message] = _Window(now, now + self._period)
            if self.alarms is not None:
                self.alarms.arm(window.end, self)
        counts = window.counts
        key: str | None = source[:SOURCE_LIMIT]
        count = counts.get(key)
        if count is None and len(counts) >= self._max_sources:
            key = None  # full: one more source among the others
            count = counts.get(None)
        count = 1 if count is None else count + 1
        counts[key] = count
        if count <= self._burst:
            (logger or self._logger).warning(message, *args)

    def alarm(self, at: float, now: float) -> None:
        """A period ended (the watchdog's call)."""
        self.expire(now)

    def expire(self, now: float) -> None:
        """Log the counts of the periods ended by ``now``, and forget those periods."""
        for message in [m for m, window in self._kinds.items() if now >= window.end]:
            self._summarize(message, self._kinds.pop(message), now)

    def flush(self, now: float) -> None:
        """Log the counts still held (the connection ends)."""
        for message, window in self._kinds.items():
            self._summarize(message, window, now)
        self._kinds.clear()

    def _summarize(self, message: str, window: _Window, now: float) -> None:
        burst = self._burst
        held = [(count - burst, source) for source, count in window.counts.items() if count > burst]
        if not held:
            return
        named = heapq.nlargest(
            SUMMARY_SOURCES, [item for item in held if item[1]], key=lambda item: item[0]
        )
        others = window.counts.get(None, 0) - burst
        shown = [f"{escape(source, SOURCE_LIMIT)} {count}" for count, source in named]
        if others > 0:
            shown.append(f"others {others}")
        self._logger.warning(
            "%s: ... %d more like %r in the last %.0f s%s",
            self.id,
            sum(count for count, _ in held),
            message,
            now - window.start,
            f" (most from: {', '.join(shown)})" if shown else "",
        )

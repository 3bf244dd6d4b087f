"""What a server's connections hold of messages still arriving, bounded in total and in time.

A connection holds the bytes of an unfinished message: the frame being received (websockets'
reader keeps it whole until its last byte) and the fragments before it. Each of a server's
connections charges the server's :class:`ReceiveBudget` for them after each read and is
discharged when the message completes or the connection ends. Past ``max_bytes`` in total, the
biggest holders (the longest held among equals) are closed with 1009: the biggest hoards go, not
whichever connection's bytes pushed the total over (unless it holds the most). They go until a
tenth of the budget is free again, so that the holders are sorted once per tenth of it, not
once per read. A message not finished within ``message_timeout`` of its first
byte closes its connection with 1008: a peer that answers pings between fragments cannot keep a
hoard for ever. The budget holds its connections weakly: one dropped without being closed is
discharged when it is collected.

Freed memory goes back to the system only if the allocator gives it back: glibc serves big
blocks with mmap, but raises that threshold to the size of a block freed, after which buffers of
a megabyte come from the heap, and the heap keeps what hoarders held after they are gone. The
first budget pins the threshold (unless the environment sets it), so that a big buffer is an
mmap of its own, returned when freed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import weakref
from typing import NoReturn, Protocol

import trio

from .._core.logsafe import RepeatLimiter

__all__ = ["MESSAGE_TIMEOUT", "RECEIVE_BUDGET", "ReceiveBudget"]

logger = logging.getLogger("trio_ocpp.websocket")

#: Bytes of unfinished messages a server holds across its connections (256 MiB).
RECEIVE_BUDGET = 256 * 2**20
#: Seconds an unfinished message may take from its first byte: 1 MiB at 9 KB/s (a slow GPRS link).
MESSAGE_TIMEOUT = 120.0
#: Blocks of this size and more are mmaps of their own (glibc's initial threshold).
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, malloc.h


class Holder(Protocol):
    """A connection that charges a budget."""

    def _evict(self) -> None:
        """Drop what it holds (charging 0) and fail with 1009; must not await."""

    async def _close_failed(self) -> None:
        """Send the Close frame that failing queued, then close."""


class ReceiveBudget:
    """Bytes of unfinished incoming messages across connections: ``max_bytes`` at most (None:
    no bound in total), each message finished within ``message_timeout`` seconds (None: no
    deadline). Run by one server (:meth:`run`), which closes the connections it evicts."""

    def __init__(
        self,
        max_bytes: int | None = RECEIVE_BUDGET,
        *,
        message_timeout: float | None = MESSAGE_TIMEOUT,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.message_timeout = message_timeout
        #: Bytes charged now.
        self.used = 0
        #: Connections closed because the total went past ``max_bytes``.
        self.evicted = 0
        # Holder -> bytes; insertion order is the order they began to hold.
        self._holders: dict[weakref.ref[Holder], int] = {}
        self._nursery: trio.Nursery | None = None
        self._warnings = RepeatLimiter(logger, "receive budget", burst=5)
        _pin_mmap_threshold()

    def charge(self, holder: Holder, held: int) -> None:
        """``holder`` holds ``held`` bytes now (0: nothing)."""
        ref = weakref.ref(holder, self._collected)
        holders = self._holders
        if held:
            self.used += held - holders.get(ref, 0)
            holders[ref] = held
            if self.max_bytes is not None and self.used > self.max_bytes:
                self._make_room(self.max_bytes)
        else:
            self.used -= holders.pop(ref, 0)

    def _collected(self, ref: weakref.ref[Holder]) -> None:
        self.used -= self._holders.pop(ref, 0)

    def _make_room(self, max_bytes: int) -> None:
        # Stable: among holders of as many bytes, the first to begin goes first.
        biggest = sorted(self._holders.items(), key=lambda item: -item[1])
        target = max_bytes - max_bytes // 10
        freed = closed = 0
        for ref, held in biggest:
            holder = ref()
            if holder is None:
                continue
            holder._evict()
            if self._nursery is not None:  # else it goes out when the holder reads next
                self._nursery.start_soon(holder._close_failed)
            freed += held
            closed += 1
            if self.used <= target:
                break
        self.evicted += closed
        self._warnings.warning(
            trio.current_time(),
            "unfinished messages over %.1f MiB: closed the %d biggest holders (%.1f MiB), 1009",
            max_bytes / 2**20,
            closed,
            freed / 2**20,
        )

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Hold the nursery in which evicted connections send their Close frames."""
        if self._nursery is not None:
            raise RuntimeError("a ReceiveBudget is run by one server")
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
        raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _pin_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at 128 KiB (once per process; not elsewhere, nor if the
    environment sets it)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
    except (ValueError, OSError, AttributeError):
        return  # not glibc
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)

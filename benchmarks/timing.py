"""Timing loops: run an operation in batches sized to a time budget, report the median.

Time is the process's CPU time (all its threads), not the wall clock: on a shared machine other
processes then count less, and a library that hands work to threads is charged for it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: Seconds per measured batch, and batches per measurement; ``--quick`` lowers both.
BATCH_SECONDS = 0.2
BATCHES = 5


def configure(*, quick: bool) -> None:
    global BATCH_SECONDS, BATCHES
    BATCH_SECONDS, BATCHES = (0.02, 3) if quick else (0.2, 5)


def _batch_size(count: int, elapsed: float) -> int | None:
    """Operations per batch, once a trial of ``count`` took long enough to tell; else None."""
    if elapsed < BATCH_SECONDS / 10:
        return None
    return max(1, int(count * BATCH_SECONDS / elapsed))


def per_operation(operation: Callable[[], Any]) -> float:
    """Median seconds per call of ``operation``."""

    def run_batch(count: int) -> float:
        start = time.process_time()
        for _ in range(count):
            operation()
        return time.process_time() - start

    count = 1
    while (size := _batch_size(count, run_batch(count))) is None:
        count *= 2
    return statistics.median(run_batch(size) / size for _ in range(BATCHES))


async def per_operation_async(operation: Callable[[], Awaitable[Any]]) -> float:
    """Median seconds per awaited call of ``operation`` (in whichever event loop runs this)."""

    async def run_batch(count: int) -> float:
        start = time.process_time()
        for _ in range(count):
            await operation()
        return time.process_time() - start

    return await per_batch_async(run_batch)


async def per_batch_async(run_batch: Callable[[int], Awaitable[float]]) -> float:
    """Median seconds per operation, from ``run_batch(count)``: the seconds ``count`` took."""
    count = 1
    while (size := _batch_size(count, await run_batch(count))) is None:
        count *= 2
    return statistics.median([await run_batch(size) / size for _ in range(BATCHES)])

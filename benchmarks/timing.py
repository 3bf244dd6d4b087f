"""Timing loops: run an operation in batches sized to a time budget, report the fastest.

Time is the process's CPU time (all its threads), not the wall clock: on a shared machine other
processes then count less, and a library that hands work to threads is charged for it. What they
still cost (a virtual machine's stolen time, caches they evict) only ever adds to a batch, so the
fastest batch is the best estimate, for every library alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: Seconds per measured batch, batches per measurement, and the rounds in which measurements
#: compared with each other take turns (``fastest_in_turns``); ``--quick`` lowers them.
BATCH_SECONDS = 0.2
BATCHES = 5
ROUNDS = 3


def configure(*, quick: bool) -> None:
    global BATCH_SECONDS, BATCHES, ROUNDS
    BATCH_SECONDS, BATCHES, ROUNDS = (0.02, 3, 1) if quick else (0.2, 2, 3)


def fastest_in_turns(measures: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each measure's fastest result, the measures taking turns ``ROUNDS`` times: a ratio of
    two of them then does not hang on a burst of noise that hit only one."""
    best = dict.fromkeys(measures, math.inf)
    for _ in range(ROUNDS):
        for name, measure in measures.items():
            best[name] = min(best[name], measure())
    return best


def _batch_size(count: int, elapsed: float) -> int | None:
    """Operations per batch, once a trial of ``count`` took long enough to tell; else None."""
    if elapsed < BATCH_SECONDS / 10:
        return None
    return max(1, int(count * BATCH_SECONDS / elapsed))


def per_operation(operation: Callable[[], Any]) -> float:
    """Seconds per call of ``operation``, in its fastest batch."""

    def run_batch(count: int) -> float:
        start = time.process_time()
        for _ in range(count):
            operation()
        return time.process_time() - start

    count = 1
    while (size := _batch_size(count, run_batch(count))) is None:
        count *= 2
    return min(run_batch(size) / size for _ in range(BATCHES))


async def per_operation_async(operation: Callable[[], Awaitable[Any]]) -> float:
    """Seconds per awaited call of ``operation`` in its fastest batch (in whichever event loop
    runs this)."""

    async def run_batch(count: int) -> float:
        start = time.process_time()
        for _ in range(count):
            await operation()
        return time.process_time() - start

    return await per_batch_async(run_batch)


async def per_batch_async(run_batch: Callable[[int], Awaitable[float]]) -> float:
    """Seconds per operation in the fastest batch, from ``run_batch(count)``: the seconds
    ``count`` took."""
    count = 1
    while (size := _batch_size(count, await run_batch(count))) is None:
        count *= 2
    return min([await run_batch(size) / size for _ in range(BATCHES)])

"""The live view: one line, redrawn every second, of what the fleet is doing."""

from __future__ import annotations

import sys
from typing import TextIO

import trio

from ._histogram import Histogram
from ._stats import FleetStats


def line(stats: FleetStats, size: int, elapsed: float, calls_per_second: float) -> str:
    recent = stats.recent
    p50, p99 = recent.percentile(0.5), recent.percentile(0.99)
    latency = "-" if p50 is None or p99 is None else f"{p50 * 1000:.1f}/{p99 * 1000:.1f} ms"
    return (
        f"{elapsed:6.0f} s  connected {stats.connected}/{size}  booted {stats.booted}  "
        f"transactions {stats.transactions_running}  calls/s {calls_per_second:.0f}  "
        f"errors {stats.unexpected}  p50/p99 {latency}"
    )


async def show(stats: FleetStats, size: int, out: TextIO = sys.stdout, period: float = 1.0) -> None:
    """Redraw the line every ``period`` seconds until cancelled."""
    start = last = trio.current_time()
    calls = stats.calls
    try:
        while True:
            await trio.sleep(period)
            now = trio.current_time()
            rate = (stats.calls - calls) / (now - last)
            calls, last = stats.calls, now
            out.write("\r\x1b[K" + line(stats, size, now - start, rate))
            out.flush()
            stats.recent = Histogram()
    finally:
        out.write("\n")
        out.flush()

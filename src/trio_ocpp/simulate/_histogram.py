"""Latencies as a histogram of logarithmic buckets: constant memory however many calls, and
histograms of several processes add up (``--processes``)."""

from __future__ import annotations

import math
from collections import Counter

#: Bucket edges grow by 5 %: a percentile is known to within that.
_GROWTH = math.log(1.05)
_FLOOR = 1e-6  # seconds: anything faster shares the first bucket


class Histogram:
    """Counts of values (seconds) by bucket."""

    __slots__ = ("buckets", "count")

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0

    def add(self, seconds: float) -> None:
        self.buckets[int(math.log(max(seconds, _FLOOR) / _FLOOR) / _GROWTH)] += 1
        self.count += 1

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count

    def percentile(self, fraction: float) -> float | None:
        """The value below which ``fraction`` of the values lie (a bucket's upper edge)."""
        if not self.count:
            return None
        wanted = fraction * self.count
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= wanted:
                break
        return _FLOOR * math.exp((bucket + 1) * _GROWTH)

    def to_json(self) -> dict[str, int]:
        return {str(bucket): n for bucket, n in self.buckets.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Histogram:
        histogram = cls()
        histogram.buckets.update({int(bucket): n for bucket, n in data.items()})
        histogram.count = sum(histogram.buckets.values())
        return histogram

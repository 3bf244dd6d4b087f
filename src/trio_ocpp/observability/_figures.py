"""Plain Python figures, turned into Prometheus metric families only when scraped.

A frame or an exchange must cost almost nothing: prometheus_client's metric objects take a
lock per increment (and in multiprocess mode write to a memory-mapped file). Here a counter
is an int attribute and a histogram a list of bucket counts (``bisect``), each label set's
child made once and kept by its caller; :meth:`Family.collect` reads them at scrape time from
the scraping thread. Reading ints and lists another thread updates is safe under the GIL; a
figure may be one increment behind, as with any scrape.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

__all__ = ["Count", "Family", "Histogram"]


class Count:
    """A counter's or a gauge's value for one label set, and ``parts``: histograms of which
    each observation also counts one here (one record counted in several figures)."""

    __slots__ = ("parts", "value")

    def __init__(self) -> None:
        self.value = 0
        self.parts: tuple[Histogram, ...] = ()

    def read(self) -> int:
        return self.value + sum(sum(part.buckets) for part in self.parts)


class Histogram:
    """Observations for one label set: ``buckets[i]`` counts those in ``(bounds[i-1],
    bounds[i]]``, the last one those above every bound (cumulated at scrape time); with
    those of its ``parts`` (histograms of the same bounds)."""

    __slots__ = ("bounds", "buckets", "parts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.parts: tuple[Histogram, ...] = ()

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def read(self) -> tuple[list[int], float]:
        """Its buckets and sum, with its parts'."""
        buckets, total = list(self.buckets), self.sum
        for part in self.parts:
            buckets = [ours + theirs for ours, theirs in zip(buckets, part.buckets, strict=True)]
            total += part.sum
        return buckets, total


class Family:
    """One metric: its children by label values, made on first use."""

    def __init__(
        self,
        name: str,
        text: str,
        kind: str,
        labels: Sequence[str],
        bounds: Sequence[float] = (),
    ) -> None:
        self.name, self.text, self.kind, self.labels = name, text, kind, list(labels)
        self.bounds = tuple(bounds)
        self.children: dict[tuple[str, ...], Count | Histogram] = {}

    def count(self, *values: str) -> Count:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = Count()
        assert isinstance(child, Count)
        return child

    def histogram(self, *values: str) -> Histogram:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = Histogram(self.bounds)
        assert isinstance(child, Histogram)
        return child

    def collect(self) -> Metric:
        """The family as prometheus_client exposes it."""
        children = list(self.children.items())  # one step: the event loop may add one
        if self.kind == "counter":
            family: Metric = CounterMetricFamily(self.name, self.text, labels=self.labels)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.text, labels=self.labels)
        else:
            family = HistogramMetricFamily(self.name, self.text, labels=self.labels)
        for values, child in children:
            if isinstance(child, Count):
                family.add_metric(list(values), child.read())  # type: ignore[attr-defined]
            else:
                buckets, total = child.read()
                family.add_metric(  # type: ignore[attr-defined]
                    list(values), list(_cumulated(self.bounds, buckets)), total
                )
        return family


def _cumulated(bounds: Sequence[float], buckets: list[int]) -> Iterator[tuple[str, float]]:
    total = 0
    for bound, count in zip([*map(str, bounds), "+Inf"], buckets, strict=True):
        total += count
        yield bound, total

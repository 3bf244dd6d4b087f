"""The plain figures expose what prometheus_client's own metrics would, sample for sample."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, Counter, Histogram

from trio_ocpp.observability._figures import Family
from trio_ocpp.observability._figures import Histogram as Figure
from trio_ocpp.observability.metrics import BUCKETS

# Below, on and between the bounds, past the last one.
VALUES = [0.0, 0.0001, 0.00011, 0.001, 0.0026, 1.0, 59.9, 60.0, 61.0, 1e9]


def samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")  # the plain figures have no creation time
    }


class Collector:
    def __init__(self, *families: Family) -> None:
        self.families = families

    def collect(self) -> list[object]:
        return [family.collect() for family in self.families]


class Both:
    """A histogram and a counter of prometheus_client (``theirs``) and the same as plain
    figures (``ours``), each registered in a registry of its own."""

    def __init__(self, label: str) -> None:
        self.theirs, self.ours = CollectorRegistry(), CollectorRegistry()
        self.histogram = Histogram(
            "h_seconds", "h", ["action"], buckets=BUCKETS, registry=self.theirs
        )
        self.counter = Counter("c", "c", [label], registry=self.theirs)
        self.our_histogram = Family("h_seconds", "h", "histogram", ["action"], BUCKETS)
        self.our_counter = Family("c", "c", "counter", [label])
        self.ours.register(Collector(self.our_histogram, self.our_counter))  # type: ignore[arg-type]

    def alike(self) -> bool:
        return samples(self.ours) == samples(self.theirs)


def test_histograms_and_counters_match_prometheus_clients() -> None:
    both = Both("code")
    for value in VALUES:
        both.histogram.labels("A").observe(value)
        both.our_histogram.histogram("A").observe(value)
    both.histogram.labels("B").observe(0.5)
    both.our_histogram.histogram("B").observe(0.5)
    both.counter.labels("X").inc(3)
    both.our_counter.count("X").value += 3
    assert both.alike()


def test_a_part_is_read_as_observed_by_each_figure_it_is_part_of() -> None:
    # One record (a part), observed once per event, read by a histogram and a counter as if
    # each had observed or counted the event itself, with their own observations beside it.
    both = Both("action")
    part = Figure(BUCKETS)
    for child in (both.our_histogram.histogram("A"), both.our_counter.count("A")):
        child.parts += (part,)
    for value in VALUES:  # through the part
        both.histogram.labels("A").observe(value)
        both.counter.labels("A").inc()
        part.observe(value)
    both.histogram.labels("A").observe(0.3)  # on the figures' own
    both.our_histogram.histogram("A").observe(0.3)
    both.counter.labels("A").inc(2)
    both.our_counter.count("A").value += 2
    assert both.alike()

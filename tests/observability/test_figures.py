"""The plain figures expose what prometheus_client's own metrics would, sample for sample."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, Counter, Histogram

from trio_ocpp.observability._figures import Family
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


def test_histograms_and_counters_match_prometheus_clients() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("h_seconds", "h", ["action"], buckets=BUCKETS, registry=theirs)
    counter = Counter("c", "c", ["code"], registry=theirs)
    our_histogram = Family("h_seconds", "h", "histogram", ["action"], BUCKETS)
    our_counter = Family("c", "c", "counter", ["code"])
    ours.register(Collector(our_histogram, our_counter))  # type: ignore[arg-type]
    for value in VALUES:
        histogram.labels("A").observe(value)
        our_histogram.histogram("A").observe(value)
    histogram.labels("B").observe(0.5)
    our_histogram.histogram("B").observe(0.5)
    counter.labels("X").inc(3)
    our_counter.count("X").value += 3
    assert samples(ours) == samples(theirs)

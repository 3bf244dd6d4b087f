"""A Prometheus scrape as the tests read it: samples by name, parsed by prometheus_client."""

from __future__ import annotations

from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "parse", "total"]

#: Sample name -> (labels, value) of each.
Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Samples:
    found: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def total(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    """The sum of the samples that have ``labels`` (of all, without)."""
    return sum(v for have, v in samples if labels.items() <= have.items())

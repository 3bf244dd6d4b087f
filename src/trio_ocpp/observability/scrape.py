"""Serving Prometheus scrapes, from one process or from several (``pip install
trio-ocpp[metrics]``).

Several processes (``python -m trio_ocpp --workers N --metrics HOST:PORT``): the supervisor
makes a directory and names it in ``PROMETHEUS_MULTIPROC_DIR`` before the workers start (they
inherit it). Each worker writes its :class:`~trio_ocpp.observability.metrics.Metrics` there
as Prometheus text once a second (:func:`writing`; a frame must not pay for a file), and the
supervisor serves the sum of every worker's file in one scrape: a scrape may be up to a second
behind. Counters and histograms add up every worker that ever ran; the connected charge points
gauge counts live workers only (a stopping worker writes its last figures without it).
Metrics an application makes itself with prometheus_client in a worker use prometheus_client's
own multiprocess mode in the same directory, and show in the same scrape.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .metrics import Metrics

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between two writes of a worker's figures.
INTERVAL = 1.0

__all__ = ["INTERVAL", "process_ended", "serving", "writing"]


@contextlib.contextmanager
def serving(host: str, port: int, *, processes: bool = False) -> Iterator[None]:
    """Serve ``/metrics`` on ``host:port`` from a thread while the block runs: this process's
    figures, or with ``processes``, those of every process started in the block."""
    with contextlib.ExitStack() as stack:
        if processes:
            path = tempfile.mkdtemp(prefix="trio-ocpp-metrics-")
            stack.callback(shutil.rmtree, path, ignore_errors=True)
            stack.enter_context(_environment(_MULTIPROC_ENV, path))
        # Imported once the environment says which mode: prometheus_client reads it then.
        from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = REGISTRY
        if processes:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
            registry.register(_Workers(path))
        server, thread = start_http_server(port, host, registry=registry)
        stack.callback(thread.join)
        stack.callback(server.shutdown)
        yield


@contextlib.asynccontextmanager
async def writing(metrics: Metrics, interval: float = INTERVAL) -> AsyncIterator[None]:
    """In a worker (multiprocess mode): ``metrics`` written for the supervisor every
    ``interval`` seconds while the block runs, and a last time, without the connected charge
    points, as it ends."""
    path = os.path.join(os.environ[_MULTIPROC_ENV], f"{os.getpid()}.prom")

    async def loop() -> None:
        while True:
            await trio.to_thread.run_sync(_write, metrics, path, True)
            await trio.sleep(interval)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(loop)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
    finally:
        _write(metrics, path, live=False)


def _write(metrics: Metrics, path: str, live: bool) -> None:
    """Replaced whole: the supervisor never reads half a file."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_View(metrics, live))
    with open(path + ".tmp", "wb") as file:
        file.write(generate_latest(registry))
    os.replace(path + ".tmp", path)


class _View:
    """``metrics`` as one collector, with or without the live gauge."""

    def __init__(self, metrics: Metrics, live: bool) -> None:
        self._metrics, self._live = metrics, live

    def collect(self) -> Iterator[Metric]:
        return self._metrics.collect(self._live)


class _Workers:
    """The supervisor's collector: the sum of the workers' files, sample by sample."""

    def __init__(self, path: str) -> None:
        self._path = path

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import Metric
        from prometheus_client.parser import text_string_to_metric_families

        kinds: dict[str, tuple[str, str]] = {}
        sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]
        sums = defaultdict(lambda: defaultdict(float))
        for name in sorted(glob.glob(os.path.join(self._path, "*.prom"))):
            with open(name) as file:
                text = file.read()
            for family in text_string_to_metric_families(text):
                kinds[family.name] = (family.documentation, family.type)
                for sample in family.samples:
                    sums[family.name][sample.name, tuple(sorted(sample.labels.items()))] += (
                        sample.value
                    )
        for name, (text, kind) in kinds.items():
            metric = Metric(name, text, kind)
            for (sample_name, labels), value in sums[name].items():
                metric.add_sample(sample_name, dict(labels), value)
            yield metric


def process_ended() -> None:
    """A worker stops: the gauges it made with prometheus_client no longer count."""
    if _MULTIPROC_ENV in os.environ:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]

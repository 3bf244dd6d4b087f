"""Serving Prometheus scrapes, from one process or from several (``pip install
trio-ocpp[metrics]``).

Several processes (``python -m trio_ocpp --workers N --metrics HOST:PORT``): the supervisor
makes a directory and names it in ``PROMETHEUS_MULTIPROC_DIR`` before the workers start (they
inherit it). Each worker writes its :class:`~trio_ocpp.observability.metrics.Metrics` there
as Prometheus text once a second (:func:`writing`; a frame must not pay for a file), and the
supervisor serves the sum of every worker's file in one scrape: a scrape may be up to a second
behind. Metrics an application makes itself with prometheus_client in a worker use
prometheus_client's own multiprocess mode in the same directory, and show in the same scrape.

A worker that ended, however (a SIGKILL too), is told to :meth:`Figures.process_ended` by the
supervisor as it reaps it (``run_workers(..., ended=figures.process_ended)``): its gauges (the
connected charge points) stop counting at once, and its counters and histograms are added to
those of the workers that ended before it (one file, ``ended.prom``). So counters never fall
while the supervisor runs: Prometheus would read a fall as a reset. What a killed worker
counted after its last write (up to a second) is lost, as with any crash.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

    from .metrics import Metrics

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between two writes of a worker's figures.
INTERVAL = 1.0

__all__ = ["INTERVAL", "Figures", "collecting", "serving", "writing"]


@contextlib.contextmanager
def serving(host: str, port: int, *, processes: bool = False) -> Iterator[Figures]:
    """Serve ``/metrics`` on ``host:port`` from a thread while the block runs: the figures of
    :func:`collecting`."""
    with collecting(processes=processes) as figures, figures.serving(host, port):
        yield figures


@contextlib.contextmanager
def collecting(*, processes: bool = False) -> Iterator[Figures]:
    """The figures a scrape reads while the block runs: this process's (prometheus_client's
    ``REGISTRY``), or with ``processes``, those of every process started in the block."""
    if not processes:
        from prometheus_client import REGISTRY

        yield Figures(REGISTRY)
        return
    path = tempfile.mkdtemp(prefix="trio-ocpp-metrics-")
    try:
        with _environment(_MULTIPROC_ENV, path):
            # Imported once the environment says which mode: prometheus_client reads it then.
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
            workers = _Workers(path)
            registry.register(workers)
            yield Figures(registry, workers)
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Figures:
    """What a scrape reads (``registry``), and, with several processes, where the supervisor
    says that one ended."""

    def __init__(self, registry: CollectorRegistry, workers: _Workers | None = None) -> None:
        self.registry = registry
        self._workers = workers

    @contextlib.contextmanager
    def serving(self, host: str, port: int) -> Iterator[None]:
        """Serve ``/metrics`` on ``host:port`` from a thread while the block runs."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, host, registry=self.registry)
        try:
            yield
        finally:
            server.shutdown()
            thread.join()

    def process_ended(self, pid: int) -> None:
        """The worker ``pid`` ended (the supervisor reaped it): its gauges no longer count,
        its counters and histograms do, for good (see the module docstring)."""
        if self._workers is not None:
            self._workers.process_ended(pid)


@contextlib.asynccontextmanager
async def writing(metrics: Metrics, interval: float = INTERVAL) -> AsyncIterator[None]:
    """In a worker (multiprocess mode): ``metrics`` written for the supervisor every
    ``interval`` seconds while the block runs, and a last time as it ends."""
    path = os.path.join(os.environ[_MULTIPROC_ENV], f"{os.getpid()}.prom")

    async def loop() -> None:
        while True:
            await trio.to_thread.run_sync(_write, metrics, path)
            await trio.sleep(interval)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(loop)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
    finally:
        _write(metrics, path)


def _write(collector: Collector, path: str) -> None:
    """Replaced whole: the supervisor never reads half a file."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    with open(path + ".tmp", "wb") as file:
        file.write(generate_latest(registry))
    os.replace(path + ".tmp", path)


class _Workers:
    """The supervisor's collector: the sum of the workers' files, sample by sample. The lock
    keeps a scrape from reading between the two steps of a worker's end, where its counters
    would count twice or not at all."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            names = glob.glob(os.path.join(self._path, "*.prom"))
            return iter(_summed(names, gauges=True))

    def process_ended(self, pid: int) -> None:
        from prometheus_client.multiprocess import mark_process_dead

        ended = os.path.join(self._path, _ENDED)
        figures = os.path.join(self._path, f"{pid}.prom")
        with self._lock:
            mark_process_dead(pid, self._path)  # type: ignore[no-untyped-call]
            if os.path.exists(figures):
                _write(_Fixed(_summed([ended, figures], gauges=False)), ended)
                os.remove(figures)
            with contextlib.suppress(FileNotFoundError):  # killed while it wrote
                os.remove(figures + ".tmp")


#: The file of the counters and histograms of the workers that ended.
_ENDED = "ended.prom"


def _summed(names: list[str], *, gauges: bool) -> list[Metric]:
    """The families of the files ``names`` (those there), summed sample by sample; without
    gauges unless ``gauges``."""
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families

    kinds: dict[str, tuple[str, str]] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]
    sums = defaultdict(lambda: defaultdict(float))
    for name in sorted(names):
        try:
            with open(name) as file:
                text = file.read()
        except FileNotFoundError:
            continue
        for family in text_string_to_metric_families(text):
            if family.type == "gauge" and not gauges:
                continue
            kinds[family.name] = (family.documentation, family.type)
            for sample in family.samples:
                key = sample.name, tuple(sorted(sample.labels.items()))
                sums[family.name][key] += sample.value
    metrics = []
    for name, (text, kind) in kinds.items():
        metric = Metric(name, text, kind)
        for (sample_name, labels), value in sums[name].items():
            metric.add_sample(sample_name, dict(labels), value)
        metrics.append(metric)
    return metrics


class _Fixed:
    """Families already made, as a collector."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]

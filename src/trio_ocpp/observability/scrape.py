"""Serving Prometheus scrapes, from one process or from several (``pip install
trio-ocpp[metrics]``).

Several processes (``python -m trio_ocpp --workers N --metrics HOST:PORT``) use
prometheus_client's multiprocess mode: the supervisor makes a directory and names it in
``PROMETHEUS_MULTIPROC_DIR`` before the workers start (they inherit it, and prometheus_client
reads it when they import it), each worker writes its figures there, and the supervisor serves
the sum of them all in one scrape. Counters and histograms add up every worker that ever ran;
the connected charge points gauge counts live workers only (a worker drops its own as it
stops: :func:`process_ended`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

__all__ = ["process_ended", "serving"]


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
        server, thread = start_http_server(port, host, registry=registry)
        stack.callback(thread.join)
        stack.callback(server.shutdown)
        yield


def process_ended() -> None:
    """A worker stops: its connected charge points no longer count (multiprocess mode)."""
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

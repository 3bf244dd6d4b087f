"""Workers on one port: N processes accept connections on the same port through SO_REUSEPORT.

::

    async def worker(listeners: list[trio.SocketListener]) -> None:
        server = trio_ocpp.Server(MyCentralSystem)
        await server.run(listeners=listeners)

    if __name__ == "__main__":
        trio_ocpp.workers.run_workers(worker, 4, "0.0.0.0", 9000)

The kernel spreads new connections over the workers' sockets. The parent starts each worker in a
process of its own (multiprocessing's "spawn": ``worker`` must be importable, e.g. a module-level
function or a ``functools.partial`` of one), starts again one that dies, and on SIGINT or
SIGTERM stops them all: each worker is cancelled (a server closes its connections with 1001),
and those still running after ``grace_period`` are killed. ``python -m trio_ocpp --workers N``
does this with the example central system.

A worker that raises sends its exception to the parent, which logs it (the traceback once,
then a line each time it recurs). One that ends within ``start_period`` seconds of its start
failed to start: after ``max_failed_starts`` such failures in a row, starting it again cannot be
expected to help (a missing module or file, a wrong setting), and the parent stops the others
and raises :class:`WorkerStartError` with the cause. The worker processes are named ``worker
<index>``: ``%(processName)s`` in a logging format says which one wrote a line.

Each worker is on its own: ``server.charge_points`` holds only its connections, and a charge
point that reconnects may land on another worker. With :mod:`trio_ocpp.cluster` (``Server(...,
cluster=...)``) the workers see and call each other's charge points, as nodes on several
machines behind a load balancer do.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import signal
import socket
import traceback
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import attrs
import trio

from ._core.logsafe import escape
from ._server.signals import run_until_signalled

__all__ = [
    "Worker",
    "WorkerSet",
    "WorkerStartError",
    "open_reuse_port_listeners",
    "run_workers",
]

logger = logging.getLogger("trio_ocpp.workers")

#: What a worker runs, in its own process, with its listening sockets.
Worker = Callable[[list[trio.SocketListener]], Awaitable[None]]
#: Characters of a worker's traceback sent to the parent: the worker writes it into a pipe
#: before it exits, so it must fit the pipe's buffer (64 KiB on Linux), at 4 bytes a character.
_TRACEBACK_LIMIT = 8_000
#: Characters of the line that names a worker's exception.
_CAUSE_LIMIT = 500


class WorkerSet:
    """The workers as what runs beside them in the parent sees them (``alongside``)."""

    def __init__(self, wanted: int) -> None:
        #: How many workers the parent keeps running.
        self.wanted = wanted
        self._processes: dict[int, BaseProcess] = {}

    @property
    def pids(self) -> dict[int, int]:
        """The live workers: index -> pid."""
        return {index: process.pid for index, process in self._processes.items() if process.pid}


class WorkerStartError(RuntimeError):
    """A worker failed to start ``max_failed_starts`` times in a row: :func:`run_workers`
    stopped the others and gave up. The message names the worker and the last cause."""


async def open_reuse_port_listeners(
    port: int, host: str | None = None, backlog: int = 1024
) -> list[trio.SocketListener]:
    """Listeners on ``port`` that other processes may share: SO_REUSEPORT, which trio's
    ``open_tcp_listeners`` does not set. ``host`` None: every address, IPv4 and IPv6."""
    listeners: list[trio.SocketListener] = []
    addresses = await trio.socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    for family, kind, proto, _, address in addresses:
        sock = trio.socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            await sock.bind(address)
            sock.listen(backlog)
        except BaseException:
            sock.close()
            for listener in listeners:
                listener.socket.close()
            raise
        listeners.append(trio.SocketListener(sock))
    return listeners


def _run_worker(worker: Worker, host: str | None, port: int, report: Connection) -> None:
    """A worker process: serve until SIGINT or SIGTERM, then stop by cancellation. Its
    exception goes to the parent, as ``(one line, traceback)``, and it exits with status 1."""
    try:
        run_until_signalled(functools.partial(_serve, worker, host, port))
    except Exception as exc:
        cause = exc
        while isinstance(cause, ExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]  # a nursery's wrapping says nothing
        line = escape("".join(traceback.format_exception_only(cause)).strip(), _CAUSE_LIMIT)
        with contextlib.suppress(OSError):  # the parent is gone
            report.send((line, traceback.format_exc()[-_TRACEBACK_LIMIT:]))
        raise SystemExit(1) from None


async def _serve(worker: Worker, host: str | None, port: int) -> None:
    await worker(await open_reuse_port_listeners(port, host))


def run_workers(
    worker: Worker,
    workers: int,
    host: str | None = "0.0.0.0",
    port: int = 9000,
    *,
    restart_delay: float = 1.0,
    grace_period: float = 10.0,
    start_period: float = 5.0,
    max_failed_starts: int = 5,
    alongside: Alongside | None = None,
    ended: Callable[[int], None] | None = None,
) -> None:
    """Run ``workers`` processes of ``worker`` on one port until SIGINT or SIGTERM (see the
    module docstring); a worker that dies is started again after ``restart_delay`` seconds.
    Raises :class:`WorkerStartError` when a worker ended within ``start_period`` seconds of its
    start ``max_failed_starts`` times in a row (the others are stopped first).

    In the parent, ``alongside(worker_set, task_status=...)`` runs beside the workers (an HTTP
    side for all of them): started before the first worker, cancelled after the last one
    stopped; if it fails, the workers are stopped and its exception raised. ``ended(pid)`` is
    called for each worker that ended, however it ended, once the parent reaped it (a dead
    worker's figures no longer count)."""
    if workers < 1:
        raise ValueError("at least one worker")
    if max_failed_starts < 1:
        raise ValueError("max_failed_starts must be at least 1")
    restarts = _Restarts(restart_delay, start_period, max_failed_starts, ended)
    trio.run(_supervise, worker, workers, host, port, restarts, grace_period, alongside)


#: What runs beside the workers in the parent: started with the workers' :class:`WorkerSet`.
Alongside = Callable[..., Awaitable[None]]


@attrs.frozen
class _Restarts:
    delay: float
    start_period: float
    max_failed_starts: int
    ended: Callable[[int], None] | None


def _exception_of(report: Connection) -> tuple[str, str] | None:
    """What an ended worker sent: its exception's line and traceback; None if it sent none."""
    try:
        if report.poll():
            line, trace = report.recv()
            return str(line), str(trace).rstrip()
    except (EOFError, OSError):
        pass  # it ended without a word (a signal, os._exit)
    return None


async def _supervise(
    worker: Worker,
    workers: int,
    host: str | None,
    port: int,
    restarts: _Restarts,
    grace_period: float,
    alongside: Alongside | None,
) -> None:
    # The port is checked here, once: a worker that cannot bind it would only die and return.
    for listener in await open_reuse_port_listeners(port, host):
        listener.socket.close()
    context = multiprocessing.get_context("spawn")
    worker_set = WorkerSet(workers)
    running = worker_set._processes
    stopping = False
    stop = trio.Event()
    all_stopped = trio.Event()
    gave_up: str | None = None
    failed: BaseException | None = None

    async def keep_running(index: int) -> None:
        nonlocal gave_up
        failed_starts = 0
        while not stopping:
            report, reporting = context.Pipe(duplex=False)
            process = context.Process(
                target=_run_worker, args=(worker, host, port, reporting), name=f"worker {index}"
            )
            process.start()
            reporting.close()  # the worker's end: the worker holds it now
            started = trio.current_time()
            running[index] = process
            logger.info("worker %d started (pid %d)", index, process.pid)
            await trio.lowlevel.wait_readable(process.sentinel)
            process.join()
            exception = _exception_of(report)
            report.close()
            del running[index]
            if restarts.ended is not None and process.pid is not None:
                restarts.ended(process.pid)
            if stopping:
                if not running:
                    all_stopped.set()
                return
            line, trace = exception or ("", "")
            at_start = trio.current_time() - started < restarts.start_period
            failed_starts = failed_starts + 1 if at_start else 0
            if failed_starts > 1:
                trace = ""  # logged at the first of the failures in a row
            if failed_starts >= restarts.max_failed_starts:
                cause = line or f"exit status {process.exitcode}"
                gave_up = f"worker {index} failed to start {failed_starts} times in a row: {cause}"
                logger.error("%s; stopping%s", gave_up, trace and f"\n{trace}")
                stop.set()
                return
            ended = f"worker {index} (pid {process.pid}) exited with {process.exitcode}"
            if at_start:
                ended += f" at start ({failed_starts} of {restarts.max_failed_starts} in a row)"
            ended += f": {line}" if line else ""
            logger.warning(
                "%s; starting it again in %g s%s", ended, restarts.delay, trace and f"\n{trace}"
            )
            await trio.sleep(restarts.delay)

    async def stop_on_signal() -> None:
        async for signum in signals:
            logger.info("stopping %d workers on %s", workers, signal.Signals(signum).name)
            stop.set()
            return

    async def run_alongside(task_status: trio.TaskStatus[None]) -> None:
        nonlocal failed
        assert alongside is not None
        started = False
        try:
            async with trio.open_nursery() as inner:
                await inner.start(alongside, worker_set)
                task_status.started()
                started = True
        except Exception as exc:
            if not started:
                raise  # no worker is running yet
            logger.error("stopping the workers: %s", escape(repr(exc), _CAUSE_LIMIT))
            failed = exc
            stop.set()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            if alongside is not None:
                await nursery.start(run_alongside)
            for index in range(workers):
                nursery.start_soon(keep_running, index)
            nursery.start_soon(stop_on_signal)
            await stop.wait()
            stopping = True
            if not running:
                all_stopped.set()
            for process in running.values():
                process.terminate()  # SIGTERM: the worker stops by cancellation
            with trio.move_on_after(grace_period):
                await all_stopped.wait()
            for process in running.values():
                logger.warning("worker pid %d did not stop in time: killed", process.pid)
                process.kill()
            await all_stopped.wait()
            nursery.cancel_scope.cancel()  # workers waiting to be started again
    if failed is not None:
        raise failed
    if gave_up is not None:
        raise WorkerStartError(gave_up)

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

Each worker is on its own: ``server.charge_points`` holds only its connections, and a charge
point that reconnects may land on another worker. With :mod:`trio_ocpp.cluster` (``Server(...,
cluster=...)``) the workers see and call each other's charge points, as nodes on several
machines behind a load balancer do.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import signal
import socket
from collections.abc import Awaitable, Callable
from multiprocessing.process import BaseProcess

import trio

from ._server.signals import run_until_signalled

__all__ = ["Worker", "open_reuse_port_listeners", "run_workers"]

logger = logging.getLogger("trio_ocpp.workers")

#: What a worker runs, in its own process, with its listening sockets.
Worker = Callable[[list[trio.SocketListener]], Awaitable[None]]


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


def _run_worker(worker: Worker, host: str | None, port: int) -> None:
    """A worker process: serve until SIGINT or SIGTERM, then stop by cancellation."""
    run_until_signalled(functools.partial(_serve, worker, host, port))


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
) -> None:
    """Run ``workers`` processes of ``worker`` on one port until SIGINT or SIGTERM (see the
    module docstring); a worker that dies is started again after ``restart_delay`` seconds."""
    if workers < 1:
        raise ValueError("at least one worker")
    trio.run(_supervise, worker, workers, host, port, restart_delay, grace_period)


async def _supervise(
    worker: Worker,
    workers: int,
    host: str | None,
    port: int,
    restart_delay: float,
    grace_period: float,
) -> None:
    # The port is checked here, once: a worker that cannot bind it would only die and return.
    for listener in await open_reuse_port_listeners(port, host):
        listener.socket.close()
    context = multiprocessing.get_context("spawn")
    running: dict[int, BaseProcess] = {}
    stopping = False
    all_stopped = trio.Event()

    async def keep_running(index: int) -> None:
        while not stopping:
            process = context.Process(
                target=_run_worker, args=(worker, host, port), name=f"trio-ocpp worker {index}"
            )
            process.start()
            running[index] = process
            logger.info("worker %d started (pid %d)", index, process.pid)
            await trio.lowlevel.wait_readable(process.sentinel)
            process.join()
            del running[index]
            if stopping:
                if not running:
                    all_stopped.set()
                return
            logger.warning(
                "worker %d (pid %d) exited with %s; starting it again in %g s",
                index,
                process.pid,
                process.exitcode,
                restart_delay,
            )
            await trio.sleep(restart_delay)

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            for index in range(workers):
                nursery.start_soon(keep_running, index)
            async for signum in signals:
                logger.info("stopping %d workers on %s", workers, signal.Signals(signum).name)
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
                break

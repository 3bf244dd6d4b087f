"""Stop a server or a client gracefully on SIGINT or SIGTERM: :func:`stop_on_signals`.

::

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ocpp.serve, CentralSystem, "0.0.0.0", 9000)
        nursery.start_soon(web_api, server)
        await trio_ocpp.stop_on_signals(server)  # until SIGINT or SIGTERM, then a graceful stop
        nursery.cancel_scope.cancel()  # the application's other tasks

A task that waits for the signal, rather than a signal option of ``run()``: the application
decides what else a signal stops (above: everything, once the connections are closed), one
receiver serves a server and a client in one process (trio gives a signal to the newest
receiver only), and ``await nursery.start(stop_on_signals, server)`` catches signals from that
moment on when the main task has other work.
"""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

import trio

from ._client.client import Client
from ._core import close_codes
from ._core.ungroup import ungroup
from ._server.server import Server
from ._server.signals import STOP_SIGNALS

__all__ = ["stop_on_signals"]

logger = logging.getLogger("trio_ocpp")

Targets = tuple[Server | Client[Any], ...]


async def stop_on_signals(
    *targets: Server | Client[Any],
    grace_period: float = 10,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Wait for SIGINT or SIGTERM, then stop ``targets``, each a :class:`Server` or a
    :class:`Client`, and return once they have stopped.

    A server stops as :meth:`Server.shutdown` says: it refuses new connections, gives each
    connection's running handlers and calls ``grace_period`` seconds to finish and closes it
    with 1001 (going away). A client does the same with its connection (:meth:`Client.aclose`,
    1001) and stops reconnecting. A second signal meanwhile ends the grace period at once.

    From the main thread only (trio's signal handling). Until it is called, or until
    ``nursery.start`` returns, a signal does what it did before (Ctrl-C raises
    KeyboardInterrupt); after it returns, too.
    """
    if not targets:
        raise TypeError("stop_on_signals() needs a Server or a Client to stop")
    with trio.open_signal_receiver(*STOP_SIGNALS) as received:
        task_status.started()
        async for number in received:
            logger.info("%s received, stopping (grace period %g s)", _name(number), grace_period)
            break
        async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
            nursery.start_soon(_hurry, received, targets)
            await _stop(targets, grace_period)
            nursery.cancel_scope.cancel()


async def _hurry(received: AsyncIterator[int], targets: Targets) -> None:
    """A second signal: stop at once, beside the graceful stop (which then ends too)."""
    async for number in received:
        logger.info("%s received again, stopping at once", _name(number))
        await _stop(targets, 0)
        return


async def _stop(targets: Targets, grace_period: float) -> None:
    async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
        for target in targets:
            if isinstance(target, Server):
                nursery.start_soon(target.shutdown, grace_period)
            else:
                close = functools.partial(target.aclose, grace_period, code=close_codes.GOING_AWAY)
                nursery.start_soon(close)


def _name(number: int) -> str:
    return signal.Signals(number).name

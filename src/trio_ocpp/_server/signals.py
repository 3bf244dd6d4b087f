"""Run a command-line program until it finishes or is asked to stop (SIGINT or SIGTERM).

A signal cancels the program, so that it ends at once, closing its connections on the way out,
with exit status 0 and no traceback. Left to themselves, Ctrl-C would raise KeyboardInterrupt
inside trio's nurseries (an ExceptionGroup traceback on Python 3.11) and SIGTERM would kill the
process without closing anything.

The example programs stop their server or client gracefully with the public
``trio_ocpp.stop_on_signals``, whose receiver takes the signals while it waits (trio gives a
signal to the newest receiver); this one takes those that come before or after.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

__all__ = ["run_until_signalled"]

logger = logging.getLogger("trio_ocpp")

T = TypeVar("T")
#: The signals that ask a program to stop: Ctrl-C, and what service managers send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _until_signalled(main: Callable[[], Awaitable[T]]) -> T | None:
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        failure: Exception | None = None
        result: T | None = None
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for number in signals:
                    logger.info("%s received, stopping", signal.Signals(number).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            try:
                result = await main()
            except Exception as exc:  # re-raised below, outside the nursery's exception group
                failure = exc
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result


def run_until_signalled(main: Callable[[], Awaitable[T]]) -> T | None:
    """``trio.run(main)``: its result, or None when SIGINT or SIGTERM stopped it."""
    try:
        return trio.run(_until_signalled, main)
    except KeyboardInterrupt:  # Ctrl-C before trio's signal receiver was in place
        return None

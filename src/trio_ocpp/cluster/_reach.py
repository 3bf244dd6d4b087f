"""Reaching the broker, which may be away when a node or a consumer starts.

Tries are spaced as a charge point spaces its reconnections (:func:`~trio_ocpp._client.client.
retry_backoff`): ``retry`` seconds, doubled up to 8 times that, each plus a random part of up to
``retry``, so that nodes started together (a machine's workers, a fleet after a power cut) do
not try together. One log line per try that failed, saying when the next one is; a node's
connections and calls never try by themselves (they wait for the one task that does).
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import trio

from .._client.client import retry_backoff
from .._core.logsafe import escape
from ._broker import Broker, ClusterUnavailableError

__all__ = ["reach"]

logger = logging.getLogger("trio_ocpp.cluster")

#: The waits double this many times at most: a broker back is reached within 9 x ``retry``.
_DOUBLINGS = 3


@contextlib.asynccontextmanager
async def reach(
    open_broker: Callable[[], AbstractAsyncContextManager[Broker]],
    prepare: Callable[[Broker], Awaitable[None]],
    who: str,
    retry: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> AsyncIterator[tuple[Broker, float]]:
    """A broker from ``open_broker`` on which ``prepare`` succeeded, and the seconds spent
    waiting for it (0: the first try succeeded); tried until then. ``task_status`` is told
    after the first try, whichever way it went. A broker that fails later is the holder's to
    wait through."""
    waits = retry_backoff(retry, retry, _DOUBLINGS, random.Random())
    first_failure: float | None = None
    while True:
        async with contextlib.AsyncExitStack() as stack:
            try:
                broker = await stack.enter_async_context(open_broker())
                await prepare(broker)
            except ClusterUnavailableError as exc:
                failure = exc
            else:
                waited = 0.0 if first_failure is None else trio.current_time() - first_failure
                task_status.started()
                yield broker, waited
                return
        task_status.started()
        task_status = trio.TASK_STATUS_IGNORED
        if first_failure is None:
            first_failure = trio.current_time()
        wait = next(waits)
        cause = escape(str(failure).strip())
        logger.warning("%s: cannot reach Redis, trying again in %.1f s: %s", who, wait, cause)
        await trio.sleep(wait)

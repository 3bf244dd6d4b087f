"""In-process routing, no sockets: a whole inbound CALL (parse, validate, handler, validate,
serialize) and a whole outbound ``call()`` (validate, serialize, response parsed, validated,
turned into an object), on trio-ocpp and on the ``ocpp`` package.

The connection is a stub. Inbound, it hands the same CALL to the ChargePoint's receive loop
(``start()``, as a server runs it) a number of times, then ends; for ``call()`` it answers at
once through the ChargePoint's own ``route_message``, the way a received response goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio

from trio_ocpp import ConnectionClosed

from . import timing
from .messages import MESSAGES, Message
from .workload import OUR_CLASSES, PACKAGES, ocpp_classes


class _Connection:
    """A connection for either library: it delivers ``incoming`` ``count`` times, then ends;
    it answers each CALL sent with ``reply``, if set."""

    def __init__(
        self, make_peer: Callable[[_Connection], Any], incoming: str = "", count: int = 0
    ) -> None:
        self.reply: dict[str, Any] | None = None
        self._incoming, self._left = incoming, count
        self.peer = make_peer(self)

    async def send_message(self, text: str) -> None:
        if self.reply is not None:
            frame = json.loads(text)
            if frame[0] == 2:
                await self.peer.route_message(json.dumps([3, frame[1], self.reply]))

    send = send_message  # the ocpp package's name for it

    async def get_message(self) -> str:
        if not self._left:
            # trio-ocpp's receive loop ends; the ocpp package's raises it
            raise ConnectionClosed(1000)
        self._left -= 1
        return self._incoming

    recv = get_message  # the ocpp package's name for it

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        pass


Workload = Callable[[Message], Awaitable[float]]
#: The request object for ``call()`` of a message, made for a ChargePoint.
MakeRequest = Callable[[Any, Message], Any]


def _workloads(classes: dict[str, type[Any]], make_request: MakeRequest) -> tuple[Workload, ...]:
    """The inbound and outbound workloads for one library's ChargePoint classes."""

    async def inbound(message: Message) -> float:
        frame, cls = message.frame(), classes[message.version]

        async def run_batch(count: int) -> float:
            cp = _Connection(lambda c: cls("bench", c), frame, count).peer
            start = time.process_time()
            with contextlib.suppress(ConnectionClosed):
                await cp.start()
            return time.process_time() - start

        return await timing.per_batch_async(run_batch)

    async def outbound(message: Message) -> float:
        connection = _Connection(lambda c: classes[message.version]("bench", c))
        connection.reply = message.response
        request = make_request(connection.peer, message)
        return await timing.per_operation_async(lambda: connection.peer.call(request))

    return inbound, outbound


def _our_request(cp: Any, message: Message) -> Any:
    return getattr(PACKAGES[message.version].call, message.action).from_wire(message.request)


def _ocpp_workloads() -> tuple[Workload, ...]:
    from ocpp.charge_point import camel_to_snake_case  # type: ignore[import-untyped]

    def request(cp: Any, message: Message) -> Any:
        # cp._call: the ocpp package's call module of the ChargePoint's version
        return getattr(cp._call, message.action)(**camel_to_snake_case(message.request))

    return _workloads(ocpp_classes(), request)


def _run_trio(workload: Workload, message: Message) -> float:
    return trio.run(workload, message)


def _run_asyncio(workload: Workload, message: Message, *, threads: bool) -> float:
    import ocpp.messages  # type: ignore[import-untyped]

    # The ocpp package validates in a thread pool by default; this module flag turns it off.
    ocpp.messages.ASYNC_VALIDATION = threads
    return asyncio.run(workload(message))  # type: ignore[arg-type]


def run(*, with_ocpp: bool) -> list[dict[str, Any]]:
    """One row per (message, direction): seconds per message for each library and setting."""
    rows = []
    ours = _workloads(OUR_CLASSES, _our_request)
    ocpp = _ocpp_workloads() if with_ocpp else None
    for message in MESSAGES:
        for index, direction in enumerate(("inbound CALL", "call()")):
            measures = {"trio_ocpp_s": partial(_run_trio, ours[index], message)}
            if ocpp is not None:
                theirs = ocpp[index]
                measures["ocpp_threads_off_s"] = partial(
                    _run_asyncio, theirs, message, threads=False
                )
                measures["ocpp_default_s"] = partial(_run_asyncio, theirs, message, threads=True)
            row: dict[str, Any] = {
                "message": message.name,
                "direction": direction,
                **timing.fastest_in_turns(measures),
            }
            if ocpp is not None:
                row["ratio_vs_threads_off"] = row["ocpp_threads_off_s"] / row["trio_ocpp_s"]
            rows.append(row)
    return rows

"""The most expensive single frames a peer can send: how long each holds the event loop.

    python -m benchmarks.worst_frames [--size BYTES] [--repeat N]

For each version, frames of up to ``--size`` bytes (default 1 MiB, trio-websocket's default
``max_message_size``) and ``_frames.MAX_CONTAINERS`` arrays and objects, built to cost as much as
possible: every value invalid, many keys, deep nesting, long strings, many array items, a huge
value where a small one is expected, the most containers per byte; and one over the limit. Each is
handed to a started ChargePoint's reader (parse, nesting check, validation, error report, the
answer serialized and sent to a stub), which handles it without yielding: the wall time until the
answer goes out is the stall every other connection sees. The valid MeterValues of the same size
is the reference. Prints the milliseconds of the fastest of ``--repeat`` runs per frame.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import trio

from trio_ocpp import ConnectionClosed, v16, v21, v201
from trio_ocpp._core.frames import MAX_CONTAINERS, MAX_NESTING
from trio_ocpp._runtime.charge_point import ChargePoint
from trio_ocpp.routing import on

SIZE = 1024 * 1024
Builder = Callable[[int], Any]  # size -> payload


def _fill(item: Any, size: int, *, limited: bool = True) -> list[Any]:
    """As many copies of ``item`` as fit in ``size`` bytes of JSON and, when ``limited``, in
    MAX_CONTAINERS arrays and objects (a frame with more is refused unread)."""
    text = json.dumps(item)
    count = (size - 200) // (len(text) + 1)
    containers = text.count("[") + text.count("{")
    if containers and limited:
        count = min(count, (MAX_CONTAINERS - 10) // containers)
    return [item] * max(1, count)


def _keys(size: int, value: Any = 1, prefix: str = "k") -> dict[str, Any]:
    each = len(json.dumps({f"{prefix}000000": value}))
    return {f"{prefix}{i:06}": value for i in range(max(1, (size - 200) // each))}


def _lists(depth: int) -> list[Any]:
    """``depth`` lists, one in the other: two bytes per level, the most containers per byte."""
    node: list[Any] = []
    for _ in range(depth - 1):
        node = [node]
    return node


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"vendorId": "v"}
    for _ in range(depth - 1):
        node = {"vendorId": "v", "x": node}
    return node


TS = "2026-01-01T00:00:00Z"


def _frames_16() -> dict[str, tuple[str, Builder]]:
    sample = {"value": "1", "unit": "Wh"}
    return {
        "valid MeterValues (reference)": (
            "MeterValues",
            lambda n: {
                "connectorId": 1,
                "meterValue": [{"timestamp": TS, "sampledValue": _fill(sample, n)}],
            },
        ),
        "every sampled value invalid": (
            "MeterValues",
            lambda n: {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": TS, "sampledValue": _fill({"value": "1", "unit": "Watt"}, n)}
                ],
            },
        ),
        "invalid values, root field missing": (
            "MeterValues",
            lambda n: {"meterValue": [{"timestamp": TS, "sampledValue": _fill({"value": 1}, n)}]},
        ),
        "many meter values, each invalid": (
            "MeterValues",
            lambda n: {
                "connectorId": 1,
                "meterValue": _fill({"timestamp": "x", "sampledValue": []}, n),
            },
        ),
        "many extra keys": ("MeterValues", lambda n: {"connectorId": 1, **_keys(n)}),
        "huge object for an array": (
            "MeterValues",
            lambda n: {"connectorId": 1, "meterValue": _keys(n, "v")},
        ),
        "long string over maxLength": ("Authorize", lambda n: {"idTag": "x" * (n - 100)}),
        "long string, enum": (
            "StatusNotification",
            lambda n: {"connectorId": 1, "errorCode": "x" * (n - 200), "status": "Available"},
        ),
        "many array items, wrong type": (
            "MeterValues",
            lambda n: {"connectorId": 1, "meterValue": _fill(1, n)},
        ),
        "nesting one past the limit, repeated": (
            "MeterValues",
            lambda n: {"connectorId": 1, "meterValue": _fill(_nested(MAX_NESTING), n)},
        ),
        "lists nested to the limit, repeated": (
            "MeterValues",
            lambda n: {"connectorId": 1, "meterValue": _fill(_lists(MAX_NESTING - 2), n)},
        ),
        "over the container limit (refused unread)": (
            "MeterValues",
            lambda n: {"connectorId": 1, "meterValue": _fill([], n, limited=False)},
        ),
    }


def _frames_2x(version: str) -> dict[str, tuple[str, Builder]]:
    sample = {"value": 1.5}
    meter = {"timestamp": TS, "sampledValue": [sample]}
    return {
        "valid MeterValues (reference)": (
            "MeterValues",
            lambda n: {
                "evseId": 1,
                "meterValue": [{"timestamp": TS, "sampledValue": _fill(sample, n)}],
            },
        ),
        "every sampled value invalid": (
            "MeterValues",
            lambda n: {
                "evseId": 1,
                "meterValue": [
                    {"timestamp": TS, "sampledValue": _fill({"value": 1, "measurand": "X"}, n)}
                ],
            },
        ),
        "invalid values, root field missing": (
            "MeterValues",
            lambda n: {"meterValue": [{"timestamp": TS, "sampledValue": _fill({"value": "1"}, n)}]},
        ),
        "many meter values, each invalid": (
            "MeterValues",
            lambda n: {"evseId": 1, "meterValue": _fill({**meter, "timestamp": "x"}, n)},
        ),
        "many extra keys": (
            "MeterValues",
            lambda n: {"evseId": 1, "meterValue": [meter], **_keys(n)},
        ),
        "many keys in customData (valid)": (
            "MeterValues",
            lambda n: {
                "evseId": 1,
                "meterValue": [meter],
                "customData": {"vendorId": "v", **_keys(n)},
            },
        ),
        "many keys in DataTransfer data (valid)": (
            "DataTransfer",
            lambda n: {"vendorId": "v", "data": _keys(n, 1, "kA")},
        ),
        "huge object for an array": (
            "MeterValues",
            lambda n: {"evseId": 1, "meterValue": _keys(n, "v")},
        ),
        "long string over maxLength": (
            "Authorize",
            lambda n: {"idToken": {"idToken": "x" * (n - 100), "type": "Central"}},
        ),
        "long string, enum": (
            "Authorize",
            lambda n: {"idToken": {"idToken": "x", "type": "x" * (n - 100)}},
        ),
        "many array items, wrong type": (
            "MeterValues",
            lambda n: {"evseId": 1, "meterValue": _fill(1, n)},
        ),
        "nesting one past the limit, repeated": (
            "DataTransfer",
            lambda n: {"vendorId": "v", "data": _fill(_nested(MAX_NESTING - 1), n)},
        ),
        "lists nested to the limit, repeated (valid)": (
            "DataTransfer",
            lambda n: {"vendorId": "v", "data": _fill(_lists(MAX_NESTING - 2), n)},
        ),
        "over the container limit (refused unread)": (
            "DataTransfer",
            lambda n: {"vendorId": "v", "data": _fill([], n, limited=False)},
        ),
        "nesting at the limit, repeated (valid)": (
            "DataTransfer",
            lambda n: {"vendorId": "v", "data": _fill(_nested(MAX_NESTING - 2), n)},
        ),
    }


def _handlers(base: type[ChargePoint]) -> type[ChargePoint]:
    """A ChargePoint of ``base``'s version with a trivial handler for each action used here."""

    class Target(base):  # type: ignore[valid-type,misc]
        @on("MeterValues")
        def on_meter_values(self, **kwargs: Any) -> dict[str, Any]:
            return {}

        @on("Authorize")
        def on_authorize(self, **kwargs: Any) -> dict[str, Any]:
            if self.ocpp_version == "1.6":
                return {"idTagInfo": {"status": "Accepted"}}
            return {"idTokenInfo": {"status": "Accepted"}}

        @on("StatusNotification")
        def on_status_notification(self, **kwargs: Any) -> dict[str, Any]:
            return {}

        @on("DataTransfer")
        def on_data_transfer(self, **kwargs: Any) -> dict[str, Any]:
            return {"status": "Accepted"}

    return Target


class _Peer:
    """A connection that hands a ChargePoint one frame at a time and keeps its answer, timed."""

    def __init__(self) -> None:
        self._to_cp, self._inbound = trio.open_memory_channel[str](1)
        self.sent = ""
        self.sent_at = 0.0
        self.answered = trio.Event()

    async def get_message(self) -> str:
        try:
            return await self._inbound.receive()
        except trio.EndOfChannel:
            raise ConnectionClosed(1000) from None

    async def send_message(self, message: str) -> None:
        self.sent, self.sent_at = message, time.perf_counter()
        self.answered.set()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self._to_cp.aclose()

    async def exchange(self, text: str) -> float:
        """Wall seconds from handing ``text`` over to its answer going out."""
        self.answered = trio.Event()
        start = time.perf_counter()
        await self._to_cp.send(text)
        with trio.fail_after(60):  # every frame is answered
            await self.answered.wait()
        return self.sent_at - start


FRAMES: dict[str, tuple[type[ChargePoint], dict[str, tuple[str, Builder]]]] = {
    "1.6": (v16.ChargePoint, _frames_16()),
    "2.0.1": (v201.ChargePoint, _frames_2x("2.0.1")),
    "2.1": (v21.ChargePoint, _frames_2x("2.1")),
}


def frames(size: int = SIZE) -> Iterator[tuple[str, str, type[ChargePoint], str]]:
    """(version, name, ChargePoint class, frame text) of every frame, each at most ``size``."""
    for version, (base, builders) in FRAMES.items():
        cls = _handlers(base)
        for name, (action, build) in builders.items():
            text = json.dumps([2, "1", action, build(size)], separators=(",", ":"))
            assert len(text.encode()) <= size, (version, name, len(text))
            yield version, name, cls, text


async def stall(cls: type[ChargePoint], text: str, repeat: int) -> tuple[float, str]:
    """Fastest wall seconds of ``text`` from a started ChargePoint's reader to its answer
    going out, over ``repeat`` runs, and the answer."""
    peer = _Peer()
    cp = cls("CP_1", peer, max_invalid_frames=10**9)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        best = min([await peer.exchange(text) for _ in range(repeat)])
        await peer.aclose()
    return best, peer.sent


async def _main(size: int, repeat: int) -> None:
    print(f"Worst frames of {size:,} bytes: ms the event loop is held (fastest of {repeat})")
    for version, name, cls, text in frames(size):
        seconds, answer = await stall(cls, text, repeat)
        print(f"{version:6} {name:42} {seconds * 1000:8.1f} ms  -> {answer[:70]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.worst_frames", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=int, default=SIZE, help="bytes per frame, at most (1 MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per frame: the fastest (3)")
    args = parser.parse_args()
    logging.getLogger("trio_ocpp").setLevel(logging.ERROR)  # a warning per frame is not the point
    trio.run(_main, args.size, args.repeat)


if __name__ == "__main__":
    main()

"""An application embedding a server or a client, stopped by ``trio_ocpp.stop_on_signals``.

    python stopping_peer.py server GRACE          # prints {"event": "listening", "port": N}
    python stopping_peer.py client URL GRACE      # identity CP_STOP; boots on each connection

Both answer DataTransfer after ``data`` seconds (printing ``{"event": "handling"}`` first), so a
test can signal the process while a handler runs. Logs go to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from typing import Any

import trio

import trio_ocpp
from trio_ocpp import v16
from trio_ocpp.routing import on


def event(name: str, **fields: Any) -> None:
    print(json.dumps({"event": name, **fields}), flush=True)


class Slow(v16.ChargePoint):
    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str, data: str) -> v16.call_result.DataTransfer:
        event("handling")
        await trio.sleep(float(data))
        return v16.call_result.DataTransfer(status="Accepted")


class CentralSystem(Slow):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time="2024-01-01T00:00:00Z", interval=10, status="Accepted"
        )


async def server(grace_period: float) -> None:
    server = trio_ocpp.Server(CentralSystem)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, "127.0.0.1", 0)
        event("listening", port=server.port)
        await trio_ocpp.stop_on_signals(server, grace_period=grace_period)
        nursery.cancel_scope.cancel()


async def client(url: str, grace_period: float) -> None:
    async def on_connect(cp: Slow) -> None:
        await cp.call(v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        event("booted")

    client = trio_ocpp.Client(url, Slow, identity="CP_STOP", on_connect=on_connect)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await trio_ocpp.stop_on_signals(client, grace_period=grace_period)
        nursery.cancel_scope.cancel()


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if argv[1] == "server":
        trio.run(server, float(argv[2]))
    else:
        trio.run(functools.partial(client, argv[2], float(argv[3])))


if __name__ == "__main__":
    main(sys.argv)

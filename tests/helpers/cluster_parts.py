"""Parts the cluster tests share: a central system's classes, a charge point that answers, and
nodes and stations on real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

import trio_ocpp
from trio_ocpp import v201
from trio_ocpp.cluster import Cluster
from trio_ocpp.cluster._broker import Broker
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"


class Csms(v201.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time=TIME)

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> Any:
        return v201.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any]) -> Any:
        return v201.call_result.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        return v201.call_result.TransactionEvent()

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        return v201.call_result.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, **kwargs: Any) -> Any:
        return v201.call_result.DataTransfer(status="Accepted")


class Station(v201.ChargePoint):
    """Answers GetVariables with the name it was asked, and GetLocalListVersion slowly; keeps
    the actions of the CALLs it received, in ``received``."""

    received: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = []

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        self.received.append("GetVariables")
        results = [
            {
                "attributeStatus": "Accepted",
                "attributeValue": self.id,
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in get_variable_data
        ]
        return v201.call_result.GetVariables(get_variable_result=results)

    @on("Reset")
    def on_reset(self, type: str) -> Any:
        self.received.append("Reset")
        raise ValueError("a reset is refused")  # answered with InternalError

    @on("GetLocalListVersion")
    async def on_get_local_list_version(self) -> Any:
        self.received.append("GetLocalListVersion")
        await trio.sleep(3600)


def get_variables(name: str = "HeartbeatInterval") -> v201.call.GetVariables:
    data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name}}]
    return v201.call.GetVariables(get_variable_data=data)


@asynccontextmanager
async def node(
    cluster: Cluster, central_system: type[v201.ChargePoint] = Csms
) -> AsyncIterator[trio_ocpp.Server]:
    """A central system on a free port whose charge points are members of ``cluster``."""
    server = trio_ocpp.Server(central_system, cluster=cluster)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, "127.0.0.1", 0)
        yield server
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def station(server: trio_ocpp.Server, identity: str) -> AsyncIterator[Station]:
    url = f"ws://127.0.0.1:{server.port}/"
    async with trio_ocpp.connect(url, Station, identity=identity) as cp:
        yield cp


@asynccontextmanager
async def held_elsewhere(
    url: str, identity: str
) -> AsyncIterator[tuple[Cluster, Cluster, trio_ocpp.Server, Station]]:
    """A node whose server holds a station ``identity``, and another node that sees it there:
    ``(holder, caller, server, station)``."""
    from trio_ocpp.cluster import connect

    async with (
        connect(url) as holder,
        connect(url) as caller,
        node(holder) as server,
        station(server, identity) as cp,
    ):
        await members_become(caller, {identity: holder.node_id})
        yield holder, caller, server, cp


@asynccontextmanager
async def two_servers(
    url: str, identity: str
) -> AsyncIterator[tuple[Cluster, Cluster, trio_ocpp.Server, trio_ocpp.Server]]:
    """Nodes a and b with a server each, and a station ``identity`` connected to a's:
    ``(a, b, server_a, server_b)``."""
    from trio_ocpp.cluster import connect

    async with (
        connect(url) as a,
        connect(url) as b,
        node(a) as server_a,
        node(b) as server_b,
        station(server_a, identity),
    ):
        await members_become(b, {identity: a.node_id})
        yield a, b, server_a, server_b


async def members_become(cluster: Cluster, expected: dict[str, str]) -> None:
    with trio.fail_after(5):
        while await cluster.charge_points() != expected:
            await trio.sleep(0.02)


def broker(cluster: Cluster) -> Broker:
    return cluster._broker


def redis_client(cluster: Cluster) -> Any:
    """The broker's glide client, for what the tests inspect in Redis."""
    return broker(cluster)._client  # type: ignore[attr-defined]


async def used_memory(cluster: Cluster) -> int:
    """Redis's ``used_memory``, in bytes."""
    import glide  # the tests that call this skipped without it

    info = await redis_client(cluster).info([glide.InfoSection.MEMORY])
    return int(info.split(b"used_memory:")[1].split(b"\r\n")[0])


async def stream_length(cluster: Cluster) -> int:
    return int(await redis_client(cluster).xlen(b"ocpp:events"))

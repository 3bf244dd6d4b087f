"""The simulated charge point's state machine, per version, against the example central system
over real sockets (trio's MockClock): a remote start starts a transaction whose meter values
follow and rise, a remote stop ends it, Reset reboots (a new connection, a new boot), and an
inoperative connector takes no transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from trio_ocpp import (
    ConnectionInfo,
    Direction,
    ExchangeRecord,
    Observer,
    Outcome,
    Server,
    exceptions,
    v16,
    v21,
    v201,
)
from trio_ocpp import testing as servers
from trio_ocpp.examples.central_system import CLASSES
from trio_ocpp.routing import on
from trio_ocpp.simulate import Behaviour
from trio_ocpp.simulate._station import CLASSES as SIMULATED
from trio_ocpp.simulate._station import SimulatedChargePoint

VERSIONS = list(SIMULATED)
MODULES = {"1.6": v16, "2.0.1": v201, "2.1": v21}
#: No transactions of its own: the test starts them.
QUIET = Behaviour(transactions_per_hour=0, transaction_duration=600, meter_interval=10)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.01)


class Received(Observer):
    """The central system's inbound CALLs, in order, with a parking lot for waiting on them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.opened = 0
        self.unanswered: list[str] = []
        self.lot = trio.lowlevel.ParkingLot()

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.opened += 1
        self.lot.unpark_all()

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        if record.direction is Direction.INBOUND:
            self.calls.append((record.call.action, record.call.payload))
            if record.outcome is Outcome.CLOSED:  # the charge point went before the answer
                self.unanswered.append(record.call.action)
            self.lot.unpark_all()

    def of(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == action]

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self.lot.park()


@asynccontextmanager
async def station(version: str) -> AsyncIterator[tuple[Server, Received, SimulatedChargePoint]]:
    received = Received()
    async with (
        servers.serving(CLASSES[version], observers=[received]) as server,
        trio.open_nursery() as nursery,
    ):
        cp = SIMULATED[version](
            f"ws://127.0.0.1:{server.port}", "SIM_1", connectors=2, behaviour=QUIET
        )
        await nursery.start(cp.run)
        with trio.fail_after(600):  # virtual seconds: a hang fails the test
            await cp.booted.wait()
            yield server, received, cp
        nursery.cancel_scope.cancel()


def meter_readings(version: str, received: Received) -> list[float]:
    """The energy register in the meter values received, in order."""
    if version == "1.6":
        samples = [m["meterValue"][0]["sampledValue"][0] for m in received.of("MeterValues")]
        return [float(s["value"]) for s in samples]
    events = [e for e in received.of("TransactionEvent") if e["eventType"] == "Updated"]
    return [float(e["meterValue"][0]["sampledValue"][0]["value"]) for e in events]


def message(version: str, action: str, **fields: Any) -> Any:
    return getattr(MODULES[version].call, action)(**fields)


async def call(server: Server, version: str, action: str, **fields: Any) -> str:
    """Call the simulated charge point from the central system: the answer's status."""
    result = await server.charge_points["SIM_1"].call(message(version, action, **fields))
    return str(result.status)


async def remote_start(server: Server, version: str, connector: int) -> str:
    if version == "1.6":
        return await call(
            server, version, "RemoteStartTransaction", id_tag="TAG1", connector_id=connector
        )
    token = {"id_token": "TAG1", "type": "ISO14443"}
    return await call(
        server,
        version,
        "RequestStartTransaction",
        id_token=token,
        remote_start_id=7,
        evse_id=connector,
    )


def ended(version: str, received: Received) -> list[dict[str, Any]]:
    """The transactions' ends received: StopTransaction, TransactionEvent Ended."""
    if version == "1.6":
        return received.of("StopTransaction")
    return [e for e in received.of("TransactionEvent") if e["eventType"] == "Ended"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_runs_a_transaction_with_rising_meter_values(
    version: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with station(version) as (server, received, cp):
        assert await remote_start(server, version, 2) == "Accepted"
        await received.until(lambda: len(meter_readings(version, received)) >= 3)
        readings = meter_readings(version, received)
        assert readings == sorted(readings) and readings[0] < readings[-1]
        transaction = cp.connectors[1].transaction
        assert transaction is not None and cp.connectors[0].transaction is None
        if version == "1.6":
            stop = await call(
                server, version, "RemoteStopTransaction", transaction_id=transaction.id
            )
        else:
            stop = await call(
                server, version, "RequestStopTransaction", transaction_id=transaction.id
            )
        assert stop == "Accepted"
        await received.until(lambda: bool(ended(version, received)))
        (end,) = ended(version, received)
        if version == "1.6":
            assert end["reason"] == "Remote" and end["meterStop"] >= int(readings[-1])
        else:
            assert end["transactionInfo"]["stoppedReason"] == "Remote"
            started = received.of("TransactionEvent")[0]
            assert started["transactionInfo"]["remoteStartId"] == 7
        assert cp.connectors[1].transaction is None
        assert cp.connectors[1].register_wh >= readings[-1]


@pytest.mark.parametrize("version", VERSIONS)
async def test_reset_ends_the_transaction_and_reboots(
    version: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with station(version) as (server, received, cp):
        assert await remote_start(server, version, 1) == "Accepted"
        await received.until(lambda: cp.connectors[0].transaction is not None)
        kind = "Hard" if version == "1.6" else "Immediate"
        assert await call(server, version, "Reset", type=kind) == "Accepted"
        await received.until(lambda: received.opened == 2 and cp.boots == 2)
        (end,) = ended(version, received)
        reason = end["reason"] if version == "1.6" else end["transactionInfo"]["stoppedReason"]
        assert reason == ("HardReset" if version == "1.6" else "ImmediateReset")
        assert len(received.of("BootNotification")) == 2
        assert cp.connectors[0].transaction is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reset_reboots_once_every_transaction_stop_is_answered(
    version: str, autojump_clock: trio.testing.MockClock
) -> None:
    """Two transactions end for a Reset: the charge point waits for both answers (billing
    events) before it goes, not only for both stops to be sent."""
    async with station(version) as (server, received, cp):
        for connector in (1, 2):
            assert await remote_start(server, version, connector) == "Accepted"
        await received.until(lambda: all(c.transaction is not None for c in cp.connectors))
        kind = "Hard" if version == "1.6" else "Immediate"
        assert await call(server, version, "Reset", type=kind) == "Accepted"
        await received.until(lambda: received.opened == 2 and cp.boots == 2)
        assert len(ended(version, received)) == 2
        assert received.unanswered == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_an_inoperative_connector_takes_no_transaction(
    version: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with station(version) as (server, received, cp):
        if version == "1.6":
            fields: dict[str, Any] = {"connector_id": 1, "type": "Inoperative"}
        else:
            fields = {"operational_status": "Inoperative", "evse": {"id": 1}}
        assert await call(server, version, "ChangeAvailability", **fields) == "Accepted"
        assert await remote_start(server, version, 1) == "Rejected"
        await received.until(
            lambda: any(
                s.get("status", s.get("connectorStatus")) == "Unavailable"
                for s in received.of("StatusNotification")
            )
        )
        assert await remote_start(server, version, 2) == "Accepted"
        await received.until(lambda: cp.connectors[1].transaction is not None)
        assert cp.connectors[0].transaction is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_configuration_triggers_and_unsupported_commands(
    version: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with station(version) as (server, received, cp):
        central = server.charge_points["SIM_1"]
        if version == "1.6":
            changed = await call(
                server, version, "ChangeConfiguration", key="HeartbeatInterval", value="7"
            )
            unknown = message(version, "GetDiagnostics", location="ftp://example.com/")
            trigger: dict[str, Any] = {"requested_message": "StatusNotification", "connector_id": 2}
            result = await central.call(
                message(version, "GetConfiguration", key=["HeartbeatInterval"])
            )
            value = result.configuration_key[0]["value"]
        else:
            variable = {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
            result = await central.call(
                message(
                    version,
                    "SetVariables",
                    set_variable_data=[{**variable, "attribute_value": "7"}],
                )
            )
            changed = result.set_variable_result[0]["attribute_status"]
            unknown = message(
                version,
                "GetLog",
                log={"remote_location": "ftp://example.com/"},
                log_type="DiagnosticsLog",
                request_id=1,
            )
            trigger = {"requested_message": "StatusNotification", "evse": {"id": 2}}
            result = await central.call(
                message(version, "GetVariables", get_variable_data=[variable])
            )
            value = result.get_variable_result[0]["attribute_value"]
        assert changed == "Accepted" and value == "7"
        assert cp.heartbeat_interval() == 7
        statuses = len(received.of("StatusNotification"))
        assert await call(server, version, "TriggerMessage", **trigger) == "Accepted"
        await received.until(lambda: len(received.of("StatusNotification")) == statuses + 1)
        with pytest.raises(exceptions.NotSupportedError):
            await central.call(unknown)


async def test_a_refused_handshake_is_counted_as_such() -> None:
    passwords = {"SIM_1": "the-right-password"}
    async with (
        servers.serving(CLASSES["1.6"], basic_auth=passwords) as server,
        trio.open_nursery() as nursery,
    ):
        cp = SIMULATED["1.6"](
            f"ws://127.0.0.1:{server.port}",
            "SIM_1",
            behaviour=QUIET,
            basic_auth="a-wrong-password",
            retry_backoff_wait_minimum=0.01,
            retry_backoff_random_range=0.01,
        )
        nursery.start_soon(cp.run)
        with trio.fail_after(5):
            while cp.stats.refused_handshakes < 2:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert cp.stats.failed_connects >= cp.stats.refused_handshakes >= 2
    assert cp.stats.connects == 0


async def test_a_connection_cut_under_several_calls_is_no_crash() -> None:
    """Both connectors' StatusNotifications are cut off by the connection's end (the first
    waiting for its answer, the second for its turn): that is the connection's story, not a
    simulator failure, and the station reconnects (two errors at once came out as a group,
    counted as a crash)."""

    class Stalling(CLASSES["1.6"]):  # type: ignore[misc, valid-type]
        @on("StatusNotification")
        async def on_status_notification(self, **kwargs: Any) -> Any:
            await trio.sleep_forever()

    received = Received()
    async with (
        servers.serving(Stalling, observers=[received]) as server,
        trio.open_nursery() as nursery,
    ):
        cp = SIMULATED["1.6"](
            f"ws://127.0.0.1:{server.port}", "SIM_1", connectors=2, behaviour=QUIET
        )
        await nursery.start(cp.run)
        with trio.fail_after(10):  # real seconds: calls wait well within their timeouts
            while cp.boots < 1:
                await trio.sleep(0.02)
            await trio.sleep(0.3)  # the first StatusNotification waits, the second its turn
            await server.charge_points["SIM_1"].aclose()
            while cp.stats.booted:  # until the station saw its connection end
                await trio.sleep(0.05)
            await trio.sleep(0.3)  # and handled what that raised
        assert not cp.stats.crashes
        nursery.cancel_scope.cancel()

"""connected_pair: the two ChargePoints talk through the whole runtime, in memory."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_ocpp import Observer, v16, v201
from trio_ocpp.exceptions import (
    CallTimeoutError,
    NotSupportedError,
    OccurenceConstraintViolationError,
)
from trio_ocpp.routing import after, on
from trio_ocpp.testing import connected_pair
from trio_ocpp.v16 import call, call_result


class CentralSystem(v16.ChargePoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[str] = []

    @on("BootNotification")
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        self.events.append(f"boot {charge_point_vendor}")
        return call_result.BootNotification(
            current_time="2026-01-01T00:00:00Z", interval=300, status="Accepted"
        )

    @after("BootNotification")
    def after_boot(self, **_: Any) -> None:
        self.events.append("after")

    async def connected(self) -> None:
        self.events.append("connected")

    async def disconnected(self, code: int, reason: str) -> None:
        self.events.append(f"disconnected {code}")


class Station(v16.ChargePoint):
    @on("Reset")
    def on_reset(self, type: str) -> Any:
        return call_result.Reset(status="Accepted" if type == "Soft" else "Rejected")


BOOT = call.BootNotification(charge_point_vendor="V", charge_point_model="M")


async def test_a_call_goes_through_routing_after_and_the_lifecycle() -> None:
    async with connected_pair(CentralSystem, Station) as pair:
        result = await pair.station.call(BOOT)
        assert result.status == "Accepted"
        reset = await pair.csms.call(call.Reset(type="Hard"))
        assert reset.status == "Rejected"
        csms = pair.csms
    assert csms.events == ["connected", "boot V", "after", "disconnected 1000"]
    # The frames went as text, camelCase on the wire.
    assert '"chargePointVendor":"V"' in str(pair.frames)


async def test_the_receiving_side_validates() -> None:
    async with connected_pair(CentralSystem, Station) as pair:
        # Sent unchecked, without a required field: the central system refuses it.
        unchecked = call.BootNotification(charge_point_vendor="V", charge_point_model=None)  # type: ignore[arg-type]
        with pytest.raises(OccurenceConstraintViolationError, match="chargePointModel"):
            await pair.station.call(unchecked, skip_schema_validation=True)
        with pytest.raises(NotSupportedError):
            await pair.station.call(call.Heartbeat())


async def test_a_response_timeout_takes_no_wall_time(autojump_clock: trio.abc.Clock) -> None:
    class Slow(CentralSystem):
        @on("Heartbeat")
        async def on_heartbeat(self) -> Any:
            await trio.sleep(60)

    async with connected_pair(Slow, Station, response_timeout=30) as pair:
        start = trio.current_time()
        with pytest.raises(CallTimeoutError):
            await pair.station.call(call.Heartbeat())
        assert trio.current_time() - start == pytest.approx(30)


async def test_observers_see_both_sides() -> None:
    class Seen(Observer):
        def __init__(self) -> None:
            self.sides: list[str] = []

        def connection_opened(self, connection: Any) -> None:
            self.sides.append(connection.side)

    seen = Seen()
    async with connected_pair(CentralSystem, Station, observers=[seen]):
        pass
    assert sorted(seen.sides) == ["client", "server"]


async def test_the_version_picks_the_class() -> None:
    class Station201(v201.ChargePoint):
        pass

    class Central201(v201.ChargePoint):
        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return v201.call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")

    async with connected_pair([CentralSystem, Central201], Station201) as pair:
        assert isinstance(pair.csms, Central201)
        result = await pair.station.call(v201.call.Heartbeat())
        assert result.current_time == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError, match=r"no class for OCPP 2\.0\.1"):
        async with connected_pair(CentralSystem, Station201):
            pass


async def test_a_hang_up_ends_both_with_1006() -> None:
    async with connected_pair(CentralSystem, Station) as pair:
        pair.hang_up()
        with trio.fail_after(1):
            while "disconnected 1006" not in pair.csms.events:
                await trio.sleep(0)


async def test_an_error_in_the_block_comes_out_as_itself() -> None:
    with pytest.raises(KeyError, match="mine"):
        async with connected_pair(CentralSystem, Station):
            raise KeyError("mine")


async def test_under_a_mock_clock_time_moves_only_when_told(
    mock_clock: trio.testing.MockClock,
) -> None:
    class Slow(CentralSystem):
        @on("Heartbeat")
        async def on_heartbeat(self) -> Any:
            await trio.sleep(10)
            return call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")

    async with (
        connected_pair(Slow, Station, response_timeout=30) as pair,
        trio.open_nursery() as nursery,
    ):
        answers: list[Any] = []

        async def heartbeat() -> None:
            answers.append(await pair.station.call(call.Heartbeat()))

        nursery.start_soon(heartbeat)
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(9)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []
        mock_clock.jump(1)
    assert answers[0].current_time == "2026-01-01T00:00:00Z"

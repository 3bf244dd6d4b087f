"""The scripted peers: exact frames against a class in memory, and against a live server."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_ocpp
from trio_ocpp import v16, v201
from trio_ocpp.exceptions import ConnectionRejected
from trio_ocpp.routing import on
from trio_ocpp.testing import (
    ExpectationError,
    fake_central_system,
    fake_central_system_server,
    fake_charge_point,
    serving,
)
from trio_ocpp.testing.scripted import contains
from trio_ocpp.v16 import call, call_result

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


class CentralSystem(v16.ChargePoint):
    @on("BootNotification")
    async def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(
            current_time="2026-01-01T00:00:00Z", interval=300, status="Accepted"
        )

    async def connected(self) -> None:
        await self.call(call.GetConfiguration(key=["HeartbeatInterval"]))


class Station(v16.ChargePoint):
    @on("Reset")
    def on_reset(self, type: str) -> Any:
        return call_result.Reset(status="Accepted")


async def test_a_fake_charge_point_drives_a_central_system() -> None:
    async with fake_charge_point(CentralSystem) as cp:
        # The central system's CALL waits while the fake boots: order is the script's.
        assert (await cp.call("BootNotification", BOOT))["status"] == "Accepted"
        assert await cp.expect_call("GetConfiguration", {"key": ["HeartbeatInterval"]}) == {
            "key": ["HeartbeatInterval"]
        }
        error = await cp.call_error("Heartbeat", code="NotSupported")
        assert "Heartbeat" in error.error_description
        # Malformed frames get the CALLERROR the rules say.
        answer = await cp.send_raw('[2, "x", "BootNotification"]')
        assert answer is not None and answer.error_code == "ProtocolError"


async def test_payload_objects_are_sent_in_their_wire_form() -> None:
    async with fake_charge_point(CentralSystem) as cp:
        boot = call.BootNotification(charge_point_vendor="V", charge_point_model="M")
        assert (await cp.call(boot))["interval"] == 300


async def test_an_unmet_expectation_lists_the_frames(autojump_clock: trio.abc.Clock) -> None:
    async with fake_charge_point(CentralSystem, time_limit=3) as cp:
        await cp.call("BootNotification", BOOT)
        with pytest.raises(ExpectationError) as failure:
            await cp.expect_call("Reset")
    message = str(failure.value)
    assert "expected the central system to CALL Reset: nothing came within 3 s" in message
    assert 'CP_1 -> [2,"1","BootNotification"' in message
    assert "CP_1 <- [2," in message and '"GetConfiguration"' in message


async def test_a_call_error_where_a_result_was_expected_fails_readably() -> None:
    async with fake_charge_point(CentralSystem) as cp:
        with pytest.raises(ExpectationError, match="CALL Heartbeat was answered with an error"):
            await cp.call("Heartbeat")


async def test_a_fake_central_system_drives_a_charge_point() -> None:
    class Booting(Station):
        async def connected(self) -> None:
            self.boot = await self.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )

    async with fake_central_system(Booting) as cs:
        fields = {"chargePointVendor": "V"}
        reply = {"currentTime": "2026-01-01T00:00:00Z", "interval": 10, "status": "Pending"}
        assert (await cs.expect_call("BootNotification", fields, reply=reply))[
            "chargePointModel"
        ] == "M"
        assert (await cs.call("Reset", {"type": "Soft"})) == {"status": "Accepted"}
        assert cs.peer is not None
        with trio.fail_after(1):
            while not hasattr(cs.peer, "boot"):
                await trio.sleep(0)
        assert cs.peer.boot.status == "Pending"  # type: ignore[attr-defined]


async def test_the_charge_point_refuses_what_breaks_the_rules() -> None:
    async with fake_central_system(Station) as cs:
        await cs.send_raw('[3, "nobody-asked", {}]', answer=False)
        error = await cs.call_error("Reset", {"type": "Sideways"})
        assert error.error_code in {"PropertyConstraintViolation", "FormationViolation"}


async def test_the_fake_against_a_live_server() -> None:
    async with serving([CentralSystem], basic_auth={"CP_1": "secret-password"}) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with fake_charge_point(url, "CP_1", "1.6", basic_auth="secret-password") as cp:
            assert (await cp.call("BootNotification", BOOT))["status"] == "Accepted"
            await cp.expect_call("GetConfiguration", reply={"configurationKey": []})
            await cp.aclose(1000)
            assert (await cp.expect_close()).code == 1000
        with pytest.raises(ConnectionRejected):
            async with fake_charge_point(url, "CP_1", "1.6", basic_auth="wrong-password!"):
                pass
        with pytest.raises(ValueError, match="needs the version"):
            async with fake_charge_point(url):
                pass
        with pytest.raises(TypeError, match="response_timeout: for a class run in memory"):
            async with fake_charge_point(url, version="1.6", response_timeout=1):
                pass


def test_fields_match_nested_subsets() -> None:
    payload = {"idToken": {"idToken": "T", "type": "ISO14443"}, "evseId": 1}
    assert contains(payload, {"idToken": {"type": "ISO14443"}})
    assert not contains(payload, {"idToken": {"type": "Central"}})
    assert not contains(payload, {"connectorId": 1})


async def test_an_unwanted_close_fails_the_step_at_once() -> None:
    class Closing(CentralSystem):
        @on("Heartbeat")
        async def on_heartbeat(self) -> Any:
            self.close_soon(4000, "go away")
            return call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")

    async with fake_charge_point(Closing) as cp:
        await cp.call("Heartbeat")
        with pytest.raises(
            ExpectationError,
            match=r"connection closed \(WebSocket connection closed: 4000 go away\)",
        ):
            await cp.expect_call("Reset")
        assert (await cp.expect_close()).code == 4000


async def test_a_binary_frame_goes_unanswered_and_the_connection_lives() -> None:
    async with fake_charge_point(CentralSystem) as cp:
        await cp.send_raw(b"\x00binary", answer=False)
        assert (await cp.call("BootNotification", BOOT))["status"] == "Accepted"
        assert cp.peer is not None and cp.peer.statistics().invalid_frames == 1


async def test_a_fake_central_system_on_a_socket_drives_a_client() -> None:
    class Booting(Station):
        async def connected(self) -> None:
            await self.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))

    async with fake_central_system_server("1.6") as server:
        async with trio_ocpp.connect(
            server.url, Booting, identity="CP 5", basic_auth="secret-password", ping_interval=0
        ):
            cs = await server.accept()
            assert cs.identity == "CP 5"
            assert cs.headers["authorization"].startswith("Basic ")
            reply = {"currentTime": "2026-01-01T00:00:00Z", "interval": 10, "status": "Accepted"}
            await cs.expect_call("BootNotification", reply=reply)
            assert await cs.call("Reset", {"type": "Hard"}) == {"status": "Accepted"}
        assert (await cs.expect_close()).code == 1000
        with pytest.raises(ConnectionRejected):  # another version than the fake's
            async with trio_ocpp.connect(server.url, v201.ChargePoint, identity="CP_6"):
                pass


async def test_a_server_nobody_connects_to_fails_readably(autojump_clock: trio.abc.Clock) -> None:
    async with fake_central_system_server("2.0.1", time_limit=2) as server:
        with pytest.raises(ExpectationError, match="no charge point connected to ws://127"):
            await server.accept()

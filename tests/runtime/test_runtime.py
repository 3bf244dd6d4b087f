"""The runtime over real WebSocket frames: CONFORMANCE 1-7 and 16-28, for each version.

A trio_ocpp server runs on 127.0.0.1 port 0; most tests talk to it through a raw trio-websocket
client so that they see the exact frames on the wire.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any, ClassVar

import pytest
import trio
import trio_websocket

import trio_ocpp
from trio_ocpp import Server, exceptions, v16, v21, v201
from trio_ocpp._core.identity import identity_from_path
from trio_ocpp.charge_point import ChargePoint
from trio_ocpp.routing import after, on
from trio_ocpp.testing import running

VERSIONS = ["1.6", "2.0.1", "2.1"]
PACKAGES: dict[str, ModuleType] = {"1.6": v16, "2.0.1": v201, "2.1": v21}
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}
TIME = "2024-01-01T00:00:00Z"

# Codes as each version spells them.
OCCURRENCE = {
    "1.6": "OccurenceConstraintViolation",
    "2.0.1": "OccurrenceConstraintViolation",
    "2.1": "OccurrenceConstraintViolation",
}
RPC = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError", "2.1": "RpcFrameworkError"}
DUPLICATE = {"1.6": "ProtocolError", "2.0.1": "RpcFrameworkError", "2.1": "RpcFrameworkError"}

# An Authorize request of each version.
AUTHORIZE = {
    "1.6": {"idTag": "TAG"},
    "2.0.1": {"idToken": {"idToken": "TAG", "type": "ISO14443"}},
    "2.1": {"idToken": {"idToken": "TAG", "type": "ISO14443"}},
}


def recorder_class(version: str) -> type[ChargePoint]:
    """A ChargePoint of ``version`` whose handlers cover the runtime's paths."""
    pkg = PACKAGES[version]

    class Recorder(pkg.ChargePoint):  # type: ignore[name-defined,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.seen: list[tuple[str, Any]] = []
            self.release = trio.Event()

        @on("Heartbeat")
        def on_heartbeat(self, call_unique_id: str) -> Any:
            self.seen.append(("Heartbeat", call_unique_id))
            return pkg.call_result.Heartbeat(current_time=TIME)

        @after("Heartbeat")
        def after_heartbeat(self) -> None:
            self.seen.append(("after Heartbeat", None))
            raise RuntimeError("a broken @after hook")

        @on("Authorize")
        async def on_authorize(self, **kwargs: Any) -> Any:
            raise exceptions.SecurityError("not allowed", {"why": "test"})

        @on("DataTransfer")
        async def on_data_transfer(self, vendor_id: str, message_id: str | None = None) -> Any:
            # One handler, several behaviours, chosen by the vendorId of the request.
            self.seen.append(("DataTransfer", vendor_id))
            if vendor_id == "crash":
                raise KeyError("secret internals")
            if vendor_id == "invalid":
                return pkg.call_result.DataTransfer(status="NoSuchStatus")
            if vendor_id == "slow":
                await self.release.wait()
            if vendor_id == "callback":
                answer = await self.call(pkg.call.DataTransfer(vendor_id="from-server"))
                return pkg.call_result.DataTransfer(status=answer.status, data="called back")
            return pkg.call_result.DataTransfer(status="Accepted", data=message_id)

        @after("DataTransfer", inject_response=True)
        def after_data_transfer(self, vendor_id: str, response: Any) -> None:
            self.seen.append(("after DataTransfer", response.status))

    return Recorder


class Answering(ChargePoint):
    """Client side: answers the server's DataTransfer calls."""

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> dict[str, Any]:
        return {"status": "Accepted", "data": f"hello {vendor_id}"}


def answering_class(version: str) -> type[ChargePoint]:
    return type("Client", (Answering, PACKAGES[version].ChargePoint), {})


@asynccontextmanager
async def serving(*versions: str, **options: Any) -> AsyncIterator[Server]:
    async with running(Server([recorder_class(v) for v in versions], **options)) as server:
        yield server


def url(server: Server, path: str = "/CP_1") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


@asynccontextmanager
async def raw(
    server: Server, version: str | None, path: str = "/CP_1", offer: list[str] | None = None
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    if offer is None:
        offer = [SUBPROTOCOL[version]] if version else []
    async with trio_websocket.open_websocket_url(url(server, path), subprotocols=offer) as ws:
        yield ws


async def ask(ws: trio_websocket.WebSocketConnection, frame: Any) -> list[Any]:
    await ws.send_message(frame if isinstance(frame, str) else json.dumps(frame))
    with trio.fail_after(5):
        return json.loads(await ws.get_message())  # type: ignore[no-any-return]


async def wait_connected(server: Server, identity: str = "CP_1") -> Any:
    with trio.fail_after(5):
        while identity not in server.charge_points:
            await trio.sleep(0.001)
    return server.charge_points[identity]


async def expect_closed(ws: trio_websocket.WebSocketConnection) -> trio_websocket.CloseReason:
    with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionClosed) as info:
        while True:
            await ws.get_message()
    assert info.value.reason is not None
    return info.value.reason


# -- connection and handshake: CONFORMANCE 1-7 ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("/CP_1", "CP_1"),
        ("/ocpp/RDAM%20123", "RDAM 123"),
        ("/ocpp/RDAM%7C123?token=x", "RDAM|123"),
        ("/ocpp//CP_2/", "CP_2"),
        ("//[x/CP_3", "CP_3"),  # urllib takes it for a broken IPv6 authority
    ],
)
async def test_identity_is_the_percent_decoded_last_segment(path: str, identity: str) -> None:
    async with serving("1.6") as server, raw(server, "1.6", path):
        cp = await wait_connected(server, identity)
        assert cp.id == identity


def test_identity_of_an_absolute_form_target() -> None:
    assert identity_from_path("http://csms.example/ocpp/CP%204?x=1") == "CP 4"


async def test_empty_identity_is_rejected_with_404() -> None:
    async with serving("1.6") as server:
        with pytest.raises(trio_websocket.ConnectionRejected) as info:
            async with raw(server, "1.6", path="/"):
                pass
        assert info.value.status_code == 404


@pytest.mark.parametrize("status", [404, 401])
async def test_on_connect_hook_rejects_before_the_upgrade(status: int) -> None:
    requests: list[trio_ocpp.ConnectionRequest] = []

    async def on_connect(request: trio_ocpp.ConnectionRequest) -> None:
        requests.append(request)
        if request.identity != "known":
            raise trio_ocpp.RejectConnection(status, [("WWW-Authenticate", "Basic")])

    async with serving("1.6", "2.0.1", on_connect=on_connect) as server:
        with pytest.raises(trio_websocket.ConnectionRejected) as info:
            async with raw(server, "2.0.1", path="/unknown"):
                pass
        assert info.value.status_code == status
        assert info.value.headers is not None
        assert (b"www-authenticate", b"Basic") in [(k.lower(), v) for k, v in info.value.headers]
        async with raw(server, "2.0.1", path="/known") as ws:
            assert ws.subprotocol == "ocpp2.0.1"
    assert requests[0].ocpp_version == "2.0.1"
    assert requests[0].offered_subprotocols == ("ocpp2.0.1",)


@pytest.mark.parametrize(
    ("offer", "chosen"),
    [
        (["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
        (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),
        (["ocpp3.0", "ocpp2.1", "ocpp1.6"], "ocpp2.1"),
    ],
)
async def test_server_picks_the_first_of_the_clients_order(offer: list[str], chosen: str) -> None:
    async with serving(*VERSIONS) as server, raw(server, None, offer=offer) as ws:
        assert ws.subprotocol == chosen
        cp = await wait_connected(server)
        assert cp.ocpp_version == chosen.removeprefix("ocpp")


@pytest.mark.parametrize("default_version", [None, "1.6"])
async def test_unsupported_subprotocols_complete_the_handshake_then_close(
    default_version: str | None,
) -> None:
    async with (
        serving("2.0.1", "1.6", default_version=default_version) as server,
        raw(server, None, offer=["ocpp9.9"]) as ws,
    ):
        assert ws.subprotocol is None
        await expect_closed(ws)


async def test_no_subprotocol_offered_is_closed_unless_a_default_is_set() -> None:
    async with serving("1.6") as server, raw(server, None) as ws:
        assert ws.subprotocol is None
        await expect_closed(ws)
    async with serving("1.6", default_version="1.6") as server, raw(server, None) as ws:
        assert ws.subprotocol is None
        reply = await ask(ws, [2, "1", "Heartbeat", {}])
        assert reply == [3, "1", {"currentTime": TIME}]


async def test_version_is_never_taken_from_the_url() -> None:
    async with serving(*VERSIONS) as server, raw(server, "2.0.1", path="/ocpp1.6/CP_1") as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        assert (await wait_connected(server)).ocpp_version == "2.0.1"


async def test_client_percent_encodes_the_identity_and_checks_it() -> None:
    async with serving("2.0.1") as server:
        async with trio_ocpp.connect(
            url(server, "/ocpp"), answering_class("2.0.1"), identity="RDAM 1"
        ):
            await wait_connected(server, "RDAM 1")
        for bad in ("a:b", "x" * 49, ""):
            with pytest.raises(ValueError):
                async with trio_ocpp.connect(url(server), answering_class("2.0.1"), identity=bad):
                    pass
    assert trio_ocpp.charge_point_url("ws://h/ocpp/", "RDAM|1/2") == "ws://h/ocpp/RDAM%7C1%2F2"


async def test_client_refuses_a_server_that_accepted_no_subprotocol() -> None:
    closed = trio.Event()

    async def accept_without_subprotocol(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason.code == 1002  # the client closed it (CONFORMANCE 6)
        closed.set()

    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(
            trio_websocket.serve_websocket, accept_without_subprotocol, "127.0.0.1", 0, None
        )
        with pytest.raises(trio_ocpp.NoSubprotocolError):
            async with trio_ocpp.connect(
                f"ws://127.0.0.1:{ws_server.port}/CP_1", answering_class("1.6")
            ):
                pass
        with trio.fail_after(5):
            await closed.wait()
        nursery.cancel_scope.cancel()


# -- routing and errors: CONFORMANCE 16-25 -------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_action_is_not_implemented_known_one_not_supported(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        reply = await ask(ws, [2, "1", "NoSuchAction", {}])
        assert reply[:3] == [4, "1", "NotImplemented"]
        reply = await ask(ws, [2, "2", "StatusNotification", {}])
        assert reply[:3] == [4, "2", "NotSupported"]
        assert reply[4] == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_schema_violations_get_the_codes_of_the_version(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        reply = await ask(ws, [2, "1", "DataTransfer", {}])
        assert reply[:3] == [4, "1", OCCURRENCE[version]]
        assert "vendorId" in reply[3]
        reply = await ask(ws, [2, "2", "DataTransfer", {"vendorId": 5}])
        assert reply[:3] == [4, "2", "TypeConstraintViolation"]
        reply = await ask(ws, [2, "3", "DataTransfer", {"vendorId": "v", "bogus": 1}])
        expected = "FormationViolation" if version == "1.6" else "FormatViolation"
        assert reply[:3] == [4, "3", expected]


@pytest.mark.parametrize("version", VERSIONS)
async def test_bad_frames_get_the_rpc_code_and_the_connection_lives(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        assert (await ask(ws, "this is not json"))[:3] == [4, "-1", RPC[version]]
        assert (await ask(ws, '{"a": 1}'))[:3] == [4, "-1", RPC[version]]
        too_few = "ProtocolError" if version == "1.6" else RPC[version]
        assert (await ask(ws, '[2, "7", "Heartbeat"]'))[:3] == [4, "7", too_few]
        assert (await ask(ws, [2, "8", "Heartbeat", None]))[:3] == [4, "8", RPC[version]]
        assert await ask(ws, [2, "9", "Heartbeat", {}]) == [3, "9", {"currentTime": TIME}]


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_message_type(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        await ws.send_message('[9, "x", {}]')
        reply = await ask(ws, [2, "1", "Heartbeat", {}])
        if version == "2.0.1":
            assert reply[:3] == [4, "x", "MessageTypeNotSupported"]
        else:
            assert reply == [3, "1", {"currentTime": TIME}]  # ignored: the next frame is ours


@pytest.mark.parametrize("version", VERSIONS)
async def test_malformed_results_and_unknown_ids_are_never_answered(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        for frame in ['[3, "nobody-asked", {}]', '[4, "nobody", "GenericError", "", {}]', "[3]"]:
            await ws.send_message(frame)
        assert await ask(ws, [2, "1", "Heartbeat", {}]) == [3, "1", {"currentTime": TIME}]
        stats = (await wait_connected(server)).statistics()
        assert stats.unmatched_responses == 2
        assert stats.invalid_frames == 1


async def test_2_1_send_is_handled_and_never_answered() -> None:
    class Streams(v21.ChargePoint):
        got: ClassVar[list[dict[str, Any]]] = []

        @on("NotifyPeriodicEventStream")
        def on_stream(self, **kwargs: Any) -> None:
            self.got.append(kwargs)

        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return v21.call_result.Heartbeat(current_time=TIME)

    async with running(Server(Streams)) as server, raw(server, "2.1") as ws:
        data = {"id": 1, "pending": 0, "basetime": TIME, "data": [{"t": 1.5, "v": "2"}]}
        await ws.send_message(json.dumps([6, "s1", "NotifyPeriodicEventStream", data]))
        await ws.send_message(json.dumps([6, "s2", "NotifyPeriodicEventStream", {"bad": 1}]))
        assert await ask(ws, [2, "1", "Heartbeat", {}]) == [3, "1", {"currentTime": TIME}]
    assert Streams.got == [
        {"id": 1, "pending": 0, "basetime": TIME, "data": [{"t": 1.5, "v": "2"}]}
    ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_duplicate_id_of_a_call_in_progress(version: str) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        await ws.send_message(json.dumps([2, "dup", "DataTransfer", {"vendorId": "slow"}]))
        cp = await wait_connected(server)
        with trio.fail_after(5):
            while ("DataTransfer", "slow") not in cp.seen:
                await trio.sleep(0.001)
        reply = await ask(ws, [2, "dup", "DataTransfer", {"vendorId": "other"}])
        assert reply[:3] == [4, "dup", DUPLICATE[version]]
        cp.release.set()
        with trio.fail_after(5):
            first = json.loads(await ws.get_message())
        assert first == [3, "dup", {"status": "Accepted"}]


@pytest.mark.parametrize("version", VERSIONS)
async def test_handler_errors(version: str, caplog: pytest.LogCaptureFixture) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        reply = await ask(ws, [2, "1", "Authorize", AUTHORIZE[version]])
        assert reply == [4, "1", "SecurityError", "not allowed", {"why": "test"}]
        reply = await ask(ws, [2, "2", "DataTransfer", {"vendorId": "crash"}])
        assert reply[:3] == [4, "2", "InternalError"]
        assert "secret" not in json.dumps(reply)
        # The handler's own response fails its schema: InternalError, not the bad payload.
        reply = await ask(ws, [2, "3", "DataTransfer", {"vendorId": "invalid"}])
        assert reply[:3] == [4, "3", "InternalError"]
        assert "NoSuchStatus" not in json.dumps(reply)
        assert await ask(ws, [2, "4", "Heartbeat", {}]) == [3, "4", {"currentTime": TIME}]
    assert "secret internals" in caplog.text  # logged with its traceback
    assert "invalid response" in caplog.text


@pytest.mark.parametrize("version", VERSIONS)
async def test_after_hooks(version: str, caplog: pytest.LogCaptureFixture) -> None:
    async with serving(version) as server, raw(server, version) as ws:
        assert await ask(ws, [2, "h", "Heartbeat", {}]) == [3, "h", {"currentTime": TIME}]
        reply = await ask(ws, [2, "d", "DataTransfer", {"vendorId": "v", "messageId": "m"}])
        assert reply == [3, "d", {"status": "Accepted", "data": "m"}]
        # The connection outlives a raising hook.
        assert await ask(ws, [2, "h2", "Heartbeat", {}]) == [3, "h2", {"currentTime": TIME}]
        cp = await wait_connected(server)
        with trio.fail_after(5):
            while ("after DataTransfer", "Accepted") not in cp.seen:
                await trio.sleep(0.001)
    assert ("Heartbeat", "h") in cp.seen
    assert ("after Heartbeat", None) in cp.seen
    assert "a broken @after hook" in caplog.text


async def test_handlers_get_only_the_arguments_they_declare() -> None:
    async with serving("2.0.1") as server, raw(server, "2.0.1") as ws:
        payload = {"vendorId": "v", "customData": {"vendorId": "x", "extension": 1}}
        reply = await ask(ws, [2, "1", "DataTransfer", payload])
        assert reply == [3, "1", {"status": "Accepted"}]


@pytest.mark.parametrize("version", VERSIONS)
async def test_invalid_frames_outnumbering_valid_ones_close_the_connection(version: str) -> None:
    options = {"max_invalid_frames": 3}
    async with serving(version, charge_point_options=options) as server, raw(server, version) as ws:
        for _ in range(2):
            await ask(ws, "junk")
        await ask(ws, [2, "ok", "Heartbeat", {}])  # a valid frame takes one off: 2 - 1
        await ask(ws, "junk")  # 2
        await ws.send_message("junk")  # 3: closed
        reason = await expect_closed(ws)
        assert reason.code == 1002


def test_logging_goes_through_the_trio_ocpp_logger() -> None:
    root = logging.getLogger("trio_ocpp")
    assert logging.getLogger("trio_ocpp.charge_point").parent is root


async def test_frames_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trio_ocpp")
    async with serving("1.6") as server, raw(server, "1.6") as ws:
        await ask(ws, [2, "1", "Heartbeat", {}])
    assert 'CP_1: receive message [2, "1", "Heartbeat", {}]' in caplog.text
    assert f'CP_1: send [3,"1",{{"currentTime":"{TIME}"}}]' in caplog.text


# -- calls: CONFORMANCE 26-28 --------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_server_calls_the_client_and_a_handler_calls_back(version: str) -> None:
    pkg = PACKAGES[version]
    async with (
        serving(version) as server,
        trio_ocpp.connect(url(server), answering_class(version)) as client,
    ):
        cp = await wait_connected(server)
        # Application code outside the connection calls the charge point by id.
        result = await server.get("CP_1").call(pkg.call.DataTransfer(vendor_id="app"))  # type: ignore[union-attr]
        assert (result.status, result.data) == ("Accepted", "hello app")
        # The client calls the server, whose handler calls back before answering.
        result = await client.call(pkg.call.DataTransfer(vendor_id="callback"))
        assert (result.status, result.data) == ("Accepted", "called back")
        # From another thread, through trio.from_thread.
        thread_result = await trio.to_thread.run_sync(
            lambda: trio.from_thread.run(cp.call, pkg.call.DataTransfer(vendor_id="thread"))
        )
        assert thread_result.data == "hello thread"
        stats = cp.statistics()
        assert stats.frames_sent >= 3 and stats.calls_pending == 0


async def test_concurrent_calls_go_out_one_at_a_time_while_inbound_calls_are_served() -> None:
    async with serving("1.6") as server, raw(server, "1.6") as ws:
        cp = await wait_connected(server)
        results: list[Any] = []

        async def call(tag: str) -> None:
            results.append(await cp.call(v16.call.DataTransfer(vendor_id=tag)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "first")
            nursery.start_soon(call, "second")
            with trio.fail_after(5):
                first = json.loads(await ws.get_message())
            # Only one CALL is out; the peer's own CALL is still served meanwhile.
            assert await ask(ws, [2, "in", "Heartbeat", {}]) == [3, "in", {"currentTime": TIME}]
            with trio.move_on_after(0.2):
                await ws.get_message()
                pytest.fail("a second CALL went out before the first was answered")
            await ws.send_message(json.dumps([3, first[1], {"status": "Accepted"}]))
            with trio.fail_after(5):
                second = json.loads(await ws.get_message())
            assert second[0] == 2 and second[1] != first[1]
            await ws.send_message(json.dumps([3, second[1], {"status": "Rejected"}]))
        assert sorted(r.status for r in results) == ["Accepted", "Rejected"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_call_errors_raise_or_are_suppressed(version: str) -> None:
    pkg = PACKAGES[version]
    async with serving(version) as server, raw(server, version) as ws:
        cp = await wait_connected(server)
        async with trio.open_nursery() as nursery:

            async def answer_with_errors() -> None:
                for _ in range(2):
                    frame = json.loads(await ws.get_message())
                    code = "OccurenceConstraintViolation" if version == "1.6" else "NotSupported"
                    await ws.send_message(json.dumps([4, frame[1], code, "no", {}]))

            nursery.start_soon(answer_with_errors)
            with pytest.raises(exceptions.OCPPError) as info:
                await cp.call(pkg.call.DataTransfer(vendor_id="v"))
            assert info.value.description == "no"
            assert await cp.call(pkg.call.DataTransfer(vendor_id="v"), suppress=True) is None
        assert cp.statistics().errors_received == 2


async def test_call_timeout_names_the_call_and_a_late_answer_is_dropped() -> None:
    options = {"response_timeout": 0.2}
    async with serving("1.6", charge_point_options=options) as server, raw(server, "1.6") as ws:
        cp = await wait_connected(server)
        with pytest.raises(exceptions.CallTimeoutError) as info:
            await cp.call(v16.call.DataTransfer(vendor_id="v"), unique_id="late-1")
        assert "DataTransfer" in str(info.value) and "late-1" in str(info.value)
        assert "0.2" in str(info.value)
        frame = json.loads(await ws.get_message())
        await ws.send_message(json.dumps([3, frame[1], {"status": "Accepted"}]))
        assert await ask(ws, [2, "1", "Heartbeat", {}]) == [3, "1", {"currentTime": TIME}]
        assert cp.statistics().unmatched_responses == 1


async def test_disconnect_fails_a_pending_call_at_once() -> None:
    async with serving("1.6", charge_point_options={"response_timeout": 30}) as server:
        async with raw(server, "1.6") as ws:
            cp = await wait_connected(server)
            async with trio.open_nursery() as nursery:

                async def hang_up() -> None:
                    await ws.get_message()  # the CALL arrived: leave without answering
                    await ws.aclose()

                nursery.start_soon(hang_up)
                with trio.fail_after(5), pytest.raises(exceptions.ConnectionClosedError):
                    await cp.call(v16.call.DataTransfer(vendor_id="v"))
        with pytest.raises(exceptions.ConnectionClosedError):
            await cp.call(v16.call.DataTransfer(vendor_id="v"))


async def test_disconnect_cancels_running_handlers() -> None:
    async with serving("1.6") as server:
        async with raw(server, "1.6") as ws:
            await ws.send_message(json.dumps([2, "1", "DataTransfer", {"vendorId": "slow"}]))
            cp = await wait_connected(server)
            with trio.fail_after(5):
                while cp.statistics().handlers_running == 0:
                    await trio.sleep(0.001)
        with trio.fail_after(5):
            while "CP_1" in server.charge_points:
                await trio.sleep(0.001)
        assert cp.statistics().handlers_running == 0


async def test_2_1_answers_an_invalid_call_result_with_callresulterror() -> None:
    async with serving("2.1") as server, raw(server, "2.1") as ws:
        cp = await wait_connected(server)
        async with trio.open_nursery() as nursery:

            async def answer_badly() -> None:
                frame = json.loads(await ws.get_message())
                await ws.send_message(json.dumps([3, frame[1], {"status": 7}]))

            nursery.start_soon(answer_badly)
            with pytest.raises(exceptions.TypeConstraintViolationError):
                await cp.call(v21.call.DataTransfer(vendor_id="v"), unique_id="r1")
        with trio.fail_after(5):
            reply = json.loads(await ws.get_message())
        assert reply[:3] == [5, "r1", "TypeConstraintViolation"]


async def test_call_refuses_a_message_of_another_version() -> None:
    async with serving("1.6") as server, raw(server, "1.6"):
        cp = await wait_connected(server)
        with pytest.raises(TypeError, match=r"2\.0\.1"):
            await cp.call(v201.call.Heartbeat())


# -- server lifecycle ----------------------------------------------------------------------------


async def test_stopping_the_server_closes_connections_with_1001() -> None:
    async with trio.open_nursery() as outer:
        server = Server(recorder_class("1.6"))
        scope = trio.CancelScope()

        async def run_server(task_status: trio.TaskStatus[None]) -> None:
            with scope:
                await server.run("127.0.0.1", 0, task_status=task_status)

        await outer.start(run_server)
        async with raw(server, "1.6") as ws:
            await wait_connected(server)
            scope.cancel()
            reason = await expect_closed(ws)
        assert reason.code == 1001


async def test_the_seed_pattern_works_with_only_imports_changed() -> None:
    cp_class = recorder_class("1.6")

    async def on_connect(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept(subprotocol="ocpp1.6")
        charge_point_id = request.path.strip("/")
        await cp_class(charge_point_id, ws).start()

    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(
            trio_websocket.serve_websocket, on_connect, "127.0.0.1", 0, None
        )
        async with trio_websocket.open_websocket_url(
            f"ws://127.0.0.1:{ws_server.port}/CP_9", subprotocols=["ocpp1.6"]
        ) as ws:
            assert await ask(ws, [2, "1", "Heartbeat", {}]) == [3, "1", {"currentTime": TIME}]
        nursery.cancel_scope.cancel()

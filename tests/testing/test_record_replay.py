"""Record and replay: the ocpp package's charge point recorded against the example central
system replays green against it, and a changed handler makes the replay say what changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers.interop.peers import SESSION_2X_CALLS, open_process, script

from trio_ocpp import ConnectionInfo, v16
from trio_ocpp.__main__ import parse_args, serve
from trio_ocpp.examples.central_system import CentralSystem201
from trio_ocpp.routing import on
from trio_ocpp.testing import (
    connected_pair,
    fake_charge_point,
    open_recorder,
    read_recording,
    replay,
    serving,
)
from trio_ocpp.testing.record import file_name


class Refusing(CentralSystem201):
    """The example central system, but a changed handler: tags are refused now."""

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
        return self.results.Authorize(id_token_info={"status": "Blocked"})


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Their charge point's 2.0.1 session with the example central system, recorded."""
    directory = tmp_path_factory.mktemp("recording")

    async def record() -> None:
        with trio.fail_after(30):
            async with (
                open_recorder(directory) as recorder,
                serving([CentralSystem201], observers=[recorder]) as server,
            ):
                url = f"ws://127.0.0.1:{server.port}/THEIR_CP"
                args = ["python", script("ocpp_charge_point.py"), "2.0.1", url]
                async with open_process(args, name="their charge point") as peer:
                    await peer.event("results")
                    cp = server.get("THEIR_CP")
                    assert cp is not None
                    await cp.aclose()
                    assert await peer.wait() == 0, peer.report()

    trio.run(record)
    return directory / "THEIR_CP.jsonl"


def test_the_recording_has_every_frame_with_who_sent_it(recording: Path) -> None:
    lines = read_recording(recording)
    assert {(line["identity"], line["version"], line["side"]) for line in lines} == {
        ("THEIR_CP", "2.0.1", "server")
    }
    inbound = [json.loads(line["frame"]) for line in lines if line["direction"] == "inbound"]
    assert [frame[2] for frame in inbound] == [*SESSION_2X_CALLS, "DataTransfer"]
    assert len(lines) == 2 * len(inbound)
    assert all(isinstance(line["time"], float) for line in lines)


async def test_it_replays_green_against_the_same_central_system(recording: Path) -> None:
    report = await replay(recording, CentralSystem201)
    report.assert_ok()
    assert report.checked == 7
    assert str(report).endswith("7 exchanges as recorded")


async def test_a_changed_handler_fails_with_a_readable_difference(recording: Path) -> None:
    report = await replay(recording, Refusing)
    assert not report.ok
    assert report.differences == [
        "#5 Authorize: payload.idTokenInfo.status: recorded 'Accepted', got 'Blocked'"
    ]
    with pytest.raises(AssertionError, match="1 differences in 7 exchanges"):
        report.assert_ok()


async def test_it_replays_against_a_live_server(recording: Path) -> None:
    async with serving([Refusing]) as server:
        report = await replay(recording, f"ws://127.0.0.1:{server.port}/")
    assert [line.split(":")[0] for line in report.differences] == ["#5 Authorize"]


class Station(v16.ChargePoint):
    @on("GetConfiguration")
    def on_get_configuration(self, **_: Any) -> Any:
        return v16.call_result.GetConfiguration(configuration_key=[])


class Asking(v16.ChargePoint):
    """A central system that calls the charge point once it booted."""

    @on("BootNotification")
    async def on_boot(self, **_: Any) -> Any:
        return v16.call_result.BootNotification(
            current_time="2026-01-01T00:00:00Z", interval=300, status="Accepted"
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered = trio.Event()

    async def connected(self) -> None:
        await self.call(v16.call.GetConfiguration(key=["HeartbeatInterval"]))
        self.answered.set()


class AskingOther(Asking):
    async def connected(self) -> None:
        await self.call(v16.call.GetConfiguration(key=["MeterValueSampleInterval"]))


async def test_the_central_systems_calls_are_compared_and_answered(tmp_path: Path) -> None:
    boot = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
    async with (
        open_recorder(tmp_path) as recorder,
        connected_pair(Asking, Station, "A/../B", csms_options={"observers": [recorder]}) as pair,
    ):
        await pair.station.call(boot)
        await pair.csms.answered.wait()
    path = tmp_path / file_name("A/../B")
    assert path.name == "A%2F..%2FB.jsonl" and path.exists()
    (await replay(path, Asking)).assert_ok()
    report = await replay(path, AskingOther)
    assert report.differences == [
        "#3 GetConfiguration (called by the central system): key: "
        "recorded ['HeartbeatInterval'], got ['MeterValueSampleInterval']"
    ]


async def test_python_m_trio_ocpp_records(tmp_path: Path) -> None:
    args = parse_args(["--record", str(tmp_path), "--versions", "1.6", "--log-level", "WARNING"])
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, args, listeners)
        url = f"ws://127.0.0.1:{port}/"
        async with fake_charge_point(url, "CP_9", "1.6") as cp:
            await cp.call("Heartbeat")
        nursery.cancel_scope.cancel()  # the server stops: the recorder writes what it holds
    frames = [json.loads(line["frame"]) for line in read_recording(tmp_path / "CP_9.jsonl")]
    assert [frame[0] for frame in frames] == [2, 3]
    assert frames[0][2] == "Heartbeat"


async def test_a_recorder_that_falls_behind_drops_and_counts(tmp_path: Path) -> None:
    info = ConnectionInfo("CP_1", "1.6", "server", None, 0.0)
    async with open_recorder(tmp_path, max_pending=2) as recorder:
        for n in range(5):  # no checkpoint between them: the writer cannot keep up
            recorder.frame_received(info, b"\xffbinary" if n == 0 else f"[{n}]", None, float(n))
    assert recorder.dropped == 3
    lines = read_recording(tmp_path / "CP_1.jsonl")
    assert [line["frame"] for line in lines] == ["\ufffdbinary", "[1]"]

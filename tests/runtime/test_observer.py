"""Observers (trio_ocpp.Observer): every frame both ways, every exchange with its outcome, the
connection's opening and end; a failing observer is logged and the connection goes on."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio
import trio.testing
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import ConnectionInfo, Direction, ExchangeRecord, Observer, Outcome, v201
from trio_ocpp.exceptions import CallTimeoutError, ConnectionClosedError
from trio_ocpp.messages import Call, CallError, CallResult
from trio_ocpp.routing import on

NOW = "2024-01-01T00:00:00Z"


class Station(v201.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time=NOW)

    @on("Authorize")
    async def on_authorize(self, id_token: dict[str, Any]) -> Any:
        raise ValueError("refused")  # answered with InternalError


class Recorder(Observer):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.events.append(("opened", connection))

    def connection_closed(
        self, connection: ConnectionInfo, code: int, reason: str, duration: float
    ) -> None:
        self.events.append(("closed", code, reason, duration))

    def frame_received(
        self, connection: ConnectionInfo, text: str | bytes, frame: Any, at: float
    ) -> None:
        self.events.append(("received", text, frame))

    def frame_sent(self, connection: ConnectionInfo, text: str, frame: Any, at: float) -> None:
        self.events.append(("sent", text, frame))

    def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
        self.events.append(("exchange", record))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [event[1:] for event in self.events if event[0] == kind]


async def test_frames_exchanges_and_the_connections_life_are_told_in_order() -> None:
    seen = Recorder()
    connection = MemoryConnection()
    cp = Station("CP 1", connection, observers=[seen])
    async with running(cp):
        heartbeat = json.dumps([2, "h", "Heartbeat", {}])
        await connection.exchange(heartbeat)
        token = {"idToken": "x", "type": "ISO14443"}
        await connection.exchange(json.dumps([2, "a", "Authorize", {"idToken": token}]))
        await connection.exchange("not json")
    [(info,)] = seen.of("opened")
    assert (info.identity, info.version, info.side) == ("CP 1", "2.0.1", "server")
    received = seen.of("received")
    assert [text for text, _ in received] == [heartbeat, received[1][0], "not json"]
    assert isinstance(received[0][1], Call) and received[2][1] is None  # not a frame
    sent = seen.of("sent")
    assert json.loads(sent[0][0]) == [3, "h", {"currentTime": NOW}]
    assert isinstance(sent[0][1], CallResult) and isinstance(sent[1][1], CallError)
    inbound = [record for (record,) in seen.of("exchange")]
    assert [(r.direction, r.call.action, r.outcome) for r in inbound] == [
        (Direction.INBOUND, "Heartbeat", Outcome.RESULT),
        (Direction.INBOUND, "Authorize", Outcome.ERROR),
    ]
    assert inbound[0].reply == sent[0][1] and inbound[0].latency >= 0
    # Each exchange is told after its answer went out: its frame_sent comes first.
    kinds = [event[0] for event in seen.events]
    assert kinds.index("exchange") > kinds.index("sent")
    [(code, _, duration)] = seen.of("closed")
    assert code == 1006 and duration >= 0  # the peer hung up without a closing handshake
    assert seen.events[-1][0] == "closed"


async def test_outbound_exchanges_result_error_timeout_and_closed() -> None:
    seen = Recorder()
    connection = MemoryConnection()
    cp = Station("CP", connection, observers=[seen])
    reset = v201.call.Reset(type="Immediate")

    async def answer(reply: Any) -> None:
        with trio.fail_after(5):
            while not (frames := connection.sent()):
                await trio.sleep(0)
        unique_id = json.loads(frames[0])[1]
        connection.deliver(json.dumps([reply[0], unique_id, *reply[1:]]))

    async with running(cp), trio.open_nursery() as nursery:
        nursery.start_soon(answer, [3, {"status": "Accepted"}])
        await cp.call(reset)
        nursery.start_soon(answer, [4, "NotSupported", "no", {}])
        await cp.call(reset, suppress=True)
        with pytest.raises(CallTimeoutError):
            await cp.call(reset, timeout=0.05)
        connection.sent()  # the CALL that timed out

        async def close_once_sent() -> None:
            with trio.fail_after(5):
                while not connection.sent():
                    await trio.sleep(0)
            await cp.aclose()

        nursery.start_soon(close_once_sent)
        with pytest.raises(ConnectionClosedError):
            await cp.call(reset)
    outbound = [r for (r,) in seen.of("exchange") if r.direction is Direction.OUTBOUND]
    assert [r.outcome for r in outbound] == [
        Outcome.RESULT,
        Outcome.ERROR,
        Outcome.TIMEOUT,
        Outcome.CLOSED,
    ]
    # Answers received carry the action of the CALL they answer (CALLERRORs too).
    reply = CallResult(outbound[0].call.unique_id, {"status": "Accepted"}, "Reset")
    assert outbound[0].reply == reply
    assert outbound[1].reply is not None and outbound[1].reply.action == "Reset"
    assert outbound[2].reply is None and outbound[2].latency >= 0.05


async def test_an_invalid_call_result_is_its_own_outcome() -> None:
    seen = Recorder()
    connection = MemoryConnection()
    cp = Station("CP", connection, observers=[seen])
    async with running(cp):
        calling = trio.Event()

        async def call() -> None:
            calling.set()
            with pytest.raises(Exception, match="status"):
                await cp.call(v201.call.Reset(type="Immediate"))

        async with trio.open_nursery() as calls:
            calls.start_soon(call)
            await calling.wait()
            await trio.testing.wait_all_tasks_blocked()
            unique_id = json.loads(connection.sent()[0])[1]
            connection.deliver(json.dumps([3, unique_id, {"status": "Maybe"}]))
    [(record,)] = seen.of("exchange")
    assert record.outcome is Outcome.INVALID_RESULT and record.reply.payload == {"status": "Maybe"}


async def test_a_failing_observer_is_logged_and_the_connection_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Observer):
        def frame_received(self, *args: Any) -> None:
            raise RuntimeError("observer bug")

    seen = Recorder()
    connection = MemoryConnection()
    cp = Station("CP", connection, observers=[Broken(), seen])
    with caplog.at_level(logging.WARNING, "trio_ocpp.observer"):
        async with running(cp):
            for n in range(20):
                sent = await connection.exchange(json.dumps([2, str(n), "Heartbeat", {}]))
                assert json.loads(sent[0])[0] == 3  # answered all the same
    assert len(seen.of("received")) == 20  # the other observer was told of each
    failures = [r for r in caplog.records if "observer bug" in r.getMessage()]
    assert 1 <= len(failures) <= 5  # rate limited


async def test_an_observer_added_later_and_one_that_listens_to_part() -> None:
    class Exchanges(Observer):
        def __init__(self) -> None:
            self.records: list[ExchangeRecord] = []

        def exchange(self, connection: ConnectionInfo, record: ExchangeRecord) -> None:
            self.records.append(record)

    connection = MemoryConnection()
    cp = Station("CP", connection)
    assert cp._watching is None  # nobody listens: nothing is built
    later = Exchanges()
    async with running(cp):
        await connection.exchange(json.dumps([2, "1", "Heartbeat", {}]))
        cp.add_observer(later)
        assert cp._watching is not None and not cp._watching.wants_frames
        await connection.exchange(json.dumps([2, "2", "Heartbeat", {}]))
    assert [r.call.unique_id for r in later.records] == ["2"]

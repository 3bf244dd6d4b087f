"""Metrics alone on a connection count through direct hooks (no record, no call between);
with other observers, through its public hooks. Both must read the same in a scrape."""

from __future__ import annotations

import gc
import json
import logging
import time
from typing import Any

import pytest
import trio
import trio.testing
from helpers.memory_connection import MemoryConnection, running

pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from trio_ocpp import ConnectionInfo, Observer, v16
from trio_ocpp._runtime.observe import (
    CLOSED,
    ERROR,
    INBOUND,
    OUTBOUND,
    RESULT,
    TIMEOUT,
    Observers,
)
from trio_ocpp.messages import Call, CallError, CallResult, CallResultError, Send
from trio_ocpp.observability import metrics as metrics_module
from trio_ocpp.observability.metrics import BUCKETS, Metrics
from trio_ocpp.routing import on


class Everything(Observer):
    """Listens to every event: with it, Metrics is called through the general path."""

    def frame_received(self, *args: Any) -> None:
        pass

    def frame_sent(self, *args: Any) -> None:
        pass

    def exchange(self, *args: Any) -> None:
        pass


def traffic(observers: Observers, version: str) -> None:
    """Frames of every kind, known actions and others, exchanges of every outcome, each
    twice (the first makes a child, the second finds it), latencies in mid-bucket."""
    observers.info = ConnectionInfo("CP1", version, "server", None, time.time())  # type: ignore[arg-type]
    boot = Call("1", "BootNotification", {})
    invented = Call("2", "NoSuchAction", {})
    answer = CallResult("1", {}, action="BootNotification")
    late = CallResult("9", {})  # no CALL of ours had that id
    refused = CallError("2", "NotImplemented", "", {}, action="NoSuchAction")
    odd = CallError("3", "MadeUpCode", "", {}, action="Reset")
    bad_result = CallResultError("4", "FormatViolation", "", {}, action="Reset")
    stream = Send("5", "NotifyPeriodicEventStream", {})
    for _ in range(2):
        for frame in (boot, invented, answer, late, refused, odd, bad_result, stream, None):
            observers.received("[]", frame)
        for frame in (boot, invented, answer, late, refused, odd, bad_result, stream):
            observers.sent("[]", frame)
        now = time.perf_counter()
        observers.exchanged(INBOUND, boot, answer, RESULT, now - 0.003)
        observers.exchanged(INBOUND, invented, refused, ERROR, now - 0.0007)
        observers.exchanged(OUTBOUND, Call("6", "Reset", {}), None, TIMEOUT, now - 7)
        observers.exchanged(OUTBOUND, Call("7", "Reset", {}), odd, ERROR, now - 0.04)
        observers.exchanged(OUTBOUND, invented, None, CLOSED, now - 0.2)


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(metrics)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def assert_alike(ours: dict[Any, float], theirs: dict[Any, float]) -> None:
    assert ours.keys() == theirs.keys()
    for key, value in ours.items():
        # Sums of latencies measured a few microseconds apart; every count is exact.
        assert value == (pytest.approx(theirs[key], abs=1e-3) if "_sum" in key[0] else theirs[key])


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
def test_direct_and_general_hooks_read_the_same(version: str) -> None:
    alone, accompanied = Metrics(registry=None), Metrics(registry=None)
    direct, general = Observers([alone]), Observers([accompanied, Everything()])
    traffic(direct, version)
    assert direct.received == alone._counting(version).received  # the direct hooks
    traffic(general, version)
    assert general.received != accompanied._counting(version).received  # the general path
    ours, theirs = scrape(alone), scrape(accompanied)
    assert_alike(ours, theirs)
    frames = ("ocpp_frames_total", frozenset({("direction", "in"), ("type", "call")}))
    assert ours[(frames[0], frames[1] | {("action", "BootNotification")})] == 2
    assert ours[(frames[0], frames[1] | {("action", "other")})] == 2
    timed_out = ("ocpp_outbound_calls_timed_out_total", frozenset({("action", "Reset")}))
    assert ours[timed_out] == 2


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
def test_an_inbound_call_counted_with_its_answer_reads_as_its_frames(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alone, Metrics is told of an inbound CALL at its end, with its answer (answered); with
    # another observer, of the CALL, the answer and the exchange apart. The clock stands still
    # at 0: each latency is exactly -started, in a bucket, past the first and on its bound.
    monkeypatch.setattr(time, "perf_counter", lambda: 0.0)  # the general path's clock
    monkeypatch.setattr(metrics_module, "perf_counter", lambda: 0.0)
    together, apart = Metrics(registry=None), Metrics(registry=None)
    fused, general = Observers([together]), Observers([apart, Everything()])
    for observers in (fused, general):
        observers.info = ConnectionInfo("CP1", version, "server", None, time.time())  # type: ignore[arg-type]
    assert (fused.answers_told, general.answers_told) == (False, True)
    boot, invented = Call("1", "BootNotification", {}), Call("2", "NoSuchAction", {})
    exchanges = [
        (boot, CallResult("1", {}, action="BootNotification"), RESULT),
        (invented, CallError("2", "NotImplemented", "", {}, action="NoSuchAction"), ERROR),
        (invented, CallResult("2", {}, action="NoSuchAction"), RESULT),  # a fallback's
        (boot, CallError("1", "MadeUpCode", "", {}, action="BootNotification"), ERROR),
        (boot, None, CLOSED),
    ]
    # The first makes the children, the next find them.
    for latency in (0.00005, 0.003, BUCKETS[0], 61.0):
        for call, reply, outcome in exchanges:
            started = -latency
            for observers in (fused, general):
                if observers.answers_told:
                    observers.received("[]", call)
                    if reply is not None:
                        observers.sent("[]", reply)
                observers.answered(INBOUND, call, reply, outcome, started)
    ours = scrape(together)
    assert ours == scrape(apart)
    calls_in = frozenset({("direction", "in"), ("type", "call"), ("action", "BootNotification")})
    assert ours[("ocpp_frames_total", calls_in)] == 12
    handled = ("ocpp_inbound_handler_duration_seconds_count", frozenset({("action", "other")}))
    assert ours[handled] == 8
    first = frozenset({("action", "BootNotification"), ("le", "0.0001")})
    assert ours[("ocpp_inbound_handler_duration_seconds_bucket", first)] == 6


def test_a_subclass_hook_is_called_not_bypassed() -> None:
    class Counted(Metrics):
        def __init__(self) -> None:
            super().__init__(registry=None)
            self.seen = 0

        def frame_received(self, *args: Any) -> None:
            self.seen += 1
            super().frame_received(*args)

    metrics = Counted()
    observers = Observers([metrics])
    traffic(observers, "1.6")
    assert metrics.seen == 18
    assert observers.sent == metrics._counting("1.6").sent  # not overridden: direct


async def test_a_failing_direct_hook_is_logged_and_the_connection_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Metrics(registry=None)
    observers = Observers([metrics])
    observers.info = ConnectionInfo("CP1", "1.6", "server", None, time.time())

    def broken(*args: Any) -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(metrics.frames, "count", broken)
    monkeypatch.setattr(metrics.handler_duration, "histogram", broken)
    with caplog.at_level(logging.WARNING, "trio_ocpp.observer"):
        observers.received("[]", Call("1", "Heartbeat", {}))
        observers.exchanged(INBOUND, Call("1", "Heartbeat", {}), None, CLOSED, 0.0)
    assert caplog.text.count("RuntimeError('broken')") == 2


@pytest.mark.parametrize("others", [[], [Everything()]], ids=["direct", "general"])
async def test_an_observed_connection_that_ended_is_freed_without_the_garbage_collector(
    others: list[Observer],
) -> None:
    # Observers holds the functions it calls per event: none may refer back to it, or each
    # ended connection's observers would wait for a collection.
    class Central(v16.ChargePoint):
        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return v16.call_result.Heartbeat(current_time="2024-01-01T00:00:00Z")

    metrics = Metrics(registry=CollectorRegistry())
    cp = Central("CP", MemoryConnection(), observers=[metrics, *others])
    async with running(cp) as connection:
        await connection.exchange(json.dumps([2, "1", "Heartbeat", {}]))
    watching = id(cp._watching)
    gc.disable()
    try:
        del cp
        # What is unreachable but in a cycle is still among the objects the collector tracks.
        assert watching not in [id(o) for o in gc.get_objects() if type(o) is Observers]
    finally:
        gc.enable()


async def test_a_connection_counts_alike_with_metrics_alone_and_with_others() -> None:
    # Through the runtime, frames of every kind: Metrics alone is called through its direct
    # hooks, with another observer through its public ones; the counts must be the same.
    class Central(v16.ChargePoint):
        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return v16.call_result.Heartbeat(current_time="2024-01-01T00:00:00Z")

        @on("Authorize")
        async def on_authorize(self, id_tag: str) -> Any:
            raise RuntimeError("a handler's bug")  # awaits: answered from a task

        @on("DataTransfer")
        async def on_data_transfer(self, vendor_id: str) -> Any:
            await trio.sleep_forever()  # still running when the connection closes

    frames = [
        [2, "1", "Heartbeat", {}],
        [2, "2", "Authorize", {"idTag": "A"}],
        [2, "3", "NoSuchAction", {}],
        [2, "4", "Heartbeat", {"unexpected": 1}],
        [3, "5", {}],
        "not json",
        [2, "6", "Heartbeat", {}],
        [2, "7", "Heartbeat"],  # answered, but no CALL: a ProtocolError
        [2, "8", "DataTransfer", {"vendorId": "V"}],
        [2, "8", "DataTransfer", {"vendorId": "V"}],  # refused: that id is being handled
    ]
    scrapes = []
    for others in ([], [Everything()]):
        metrics = Metrics(registry=None)
        cp = Central("CP", MemoryConnection(), observers=[metrics, *others])
        async with running(cp) as connection:
            for frame in frames:
                await connection.exchange(frame if isinstance(frame, str) else json.dumps(frame))
            # Alone, Metrics counts a CALL with its answer; with others, each frame as it goes.
            assert cp._watching is not None
            assert cp._watching.answers_told is bool(others)
        # Every count; latencies (sums and buckets) differ from run to run.
        timed = ("_sum", "_bucket")
        scrapes.append({k: v for k, v in scrape(metrics).items() if not k[0].endswith(timed)})
    alone, accompanied = scrapes
    assert alone == accompanied
    calls_in = ("ocpp_frames_total", frozenset({("direction", "in"), ("type", "call")}))
    assert alone[(calls_in[0], calls_in[1] | {("action", "Heartbeat")})] == 3
    results = frozenset({("direction", "out"), ("type", "callresult"), ("action", "Heartbeat")})
    assert alone[("ocpp_frames_total", results)] == 2
    transfers = ("ocpp_frames_total", calls_in[1] | {("action", "DataTransfer")})
    assert alone[transfers] == 2  # the refused one, and the one the close ended
    # The refused CALL, and the CALL of three elements (answered, but never an exchange).
    protocol_errors = frozenset({("direction", "out"), ("code", "ProtocolError")})
    assert alone[("ocpp_call_errors_total", protocol_errors)] == 2


async def test_a_call_in_flight_when_an_observer_joins_is_counted_once() -> None:
    # Alone, Metrics counts a CALL at its end; an observer added while it runs makes the
    # connection count through the public hooks from then on. The CALL that arrived before
    # is told to the observers that saw it arrive: counted once, CALL and answer alike.
    release = trio.Event()

    class Central(v16.ChargePoint):
        @on("Authorize")
        async def on_authorize(self, id_tag: str) -> Any:
            await release.wait()
            return v16.call_result.Authorize(id_tag_info={"status": "Accepted"})

    metrics = Metrics(registry=None)
    cp = Central("CP", MemoryConnection(), observers=[metrics])
    async with running(cp) as connection:
        await connection.exchange(json.dumps([2, "1", "Authorize", {"idTag": "A"}]))
        cp.add_observer(Everything())
        release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert len(connection.sent()) == 1  # the answer
    figures = scrape(metrics)
    for direction, kind in (("in", "call"), ("out", "callresult")):
        labels = frozenset({("direction", direction), ("type", kind), ("action", "Authorize")})
        assert figures[("ocpp_frames_total", labels)] == 1
    handled = ("ocpp_inbound_handler_duration_seconds_count", frozenset({("action", "Authorize")}))
    assert figures[handled] == 1

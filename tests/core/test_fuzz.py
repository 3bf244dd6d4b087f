"""Property-based tests (issue 7): bad input never crashes the frame parser or a connection.

``unpack`` is checked against an oracle written from CONFORMANCE 19-20 over arbitrary text,
arbitrary JSON and mutations of valid frames of every type, for every version. The whole inbound
path is checked by feeding a real ChargePoint random frames, interleaved with valid CALLs,
through an in-memory connection.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import trio
import trio.testing
from helpers.memory_connection import MemoryConnection
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ocpp import exceptions, v16, v21, v201
from trio_ocpp._core import json_codec as _json
from trio_ocpp.charge_point import ChargePoint
from trio_ocpp.messages import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Send,
    pack,
    unpack,
)
from trio_ocpp.routing import on

VERSIONS = ["1.6", "2.0.1", "2.1"]
PACKAGES: dict[str, ModuleType] = {"1.6": v16, "2.0.1": v201, "2.1": v21}
TIME = "2024-01-01T00:00:00Z"

RPC_CODE = {
    "1.6": "FormationViolation",
    "2.0.1": "RpcFrameworkError",
    "2.1": "RpcFrameworkError",
    None: "RpcFrameworkError",  # version not known yet: 2.x spelling
}
KNOWN_TYPES = {"1.6": {2, 3, 4}, "2.0.1": {2, 3, 4}, "2.1": {2, 3, 4, 5, 6}, None: {2, 3, 4, 5, 6}}
# The element types after the message type id, per message type (CONFORMANCE 9-13).
SHAPES: dict[int, tuple[type, ...]] = {
    2: (str, str, dict),
    3: (str, dict),
    4: (str, str, str, dict),
    5: (str, str, str, dict),
    6: (str, str, dict),
}

# -- the oracle ---------------------------------------------------------------------------------


def expected_outcome(text: str | bytes, version: str | None) -> tuple[Any, ...]:
    """What CONFORMANCE 8-20 say ``unpack`` does: ("frame", type), ("reply", id, code), or
    ("silent",) for a bad frame that gets no answer."""
    try:
        # What JSON the text holds is tests/core/test_json.py's question (the standard library's
        # answer, but for integers beyond 64 bits); here, what the rules make of it.
        value = _json.loads(text)
    except (ValueError, RecursionError):
        return ("reply", "-1", RPC_CODE[version])
    if not isinstance(value, list) or not value or type(value[0]) is not int:
        return ("reply", "-1", RPC_CODE[version])
    message_type = value[0]
    has_id = len(value) > 1 and isinstance(value[1], str) and len(value[1]) <= 36
    answer_id = value[1] if has_id else "-1"
    if message_type not in KNOWN_TYPES[version]:
        if version == "2.0.1":
            return ("reply", answer_id, "MessageTypeNotSupported")
        return ("silent",)
    shape = SHAPES[message_type]
    if (
        has_id
        and len(value) == 1 + len(shape)
        and all(isinstance(v, t) for v, t in zip(value[1:], shape, strict=True))
    ):
        return ("frame", message_type)
    if message_type == 2:
        too_few = version == "1.6" and len(value) < 4
        return ("reply", answer_id, "ProtocolError" if too_few else RPC_CODE[version])
    return ("silent",)


def outcome_of(text: str | bytes, version: str | None) -> tuple[Any, ...]:
    """What ``unpack`` does, checking on the way that whatever it returns or answers is sound."""
    try:
        frame = unpack(text, version)  # type: ignore[arg-type]
    except exceptions.OCPPError as exc:  # anything else fails the test
        if exc.reply is None:
            return ("silent",)
        wire = pack(exc.reply)
        assert unpack(wire, "2.1") == exc.reply  # a well-formed CALLERROR, whatever came in
        if version != "1.6":
            assert len(exc.reply.error_description) <= 255
        return ("reply", exc.reply.unique_id, exc.reply.error_code)
    assert unpack(pack(frame), version) == frame  # type: ignore[arg-type]
    return ("frame", int(frame.message_type_id))


# -- strategies ---------------------------------------------------------------------------------

versions = st.sampled_from([*VERSIONS, None])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
message_ids = st.text(max_size=36)
long_ids = st.text(min_size=37, max_size=80)
actions = st.sampled_from(["Heartbeat", "BootNotification", "NotifyPeriodicEventStream"]) | st.text(
    max_size=20
)
codes = st.sampled_from(["GenericError", "NotSupported", "FormationViolation"]) | st.text(
    max_size=20
)


@st.composite
def valid_frames(draw: st.DrawFn) -> list[Any]:
    message_type = draw(st.sampled_from(sorted(SHAPES)))
    if message_type in (2, 6):
        return [message_type, draw(message_ids), draw(actions), draw(objects)]
    if message_type == 3:
        return [3, draw(message_ids), draw(objects)]
    return [message_type, draw(message_ids), draw(codes), draw(st.text(max_size=40)), draw(objects)]


@st.composite
def mutated_frames(draw: st.DrawFn) -> list[Any]:
    """A valid frame with 1-3 structural mutations: elements dropped, added or replaced by
    values of any type, an id too long, junk nested in the payload."""
    frame = draw(valid_frames())
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from(["drop", "insert", "replace", "long id", "nest"]))
        if mutation == "drop" and frame:
            del frame[draw(st.integers(0, len(frame) - 1))]
        elif mutation == "insert":
            frame.insert(draw(st.integers(0, len(frame))), draw(json_values))
        elif mutation == "replace" and frame:
            frame[draw(st.integers(0, len(frame) - 1))] = draw(json_values)
        elif mutation == "long id" and len(frame) > 1:
            frame[1] = draw(long_ids)
        elif mutation == "nest" and frame and isinstance(frame[-1], dict):
            frame[-1][draw(st.text(max_size=8))] = draw(json_values)
    return frame


@st.composite
def garbled_texts(draw: st.DrawFn) -> str:
    """The text of a valid frame, cut short or with characters spliced in."""
    text = json.dumps(draw(valid_frames()))
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.text(max_size=5)) + text[cut + draw(st.integers(0, 3)) :]


# Everything a peer might send, as WebSocket message contents.
any_messages = (
    st.text(max_size=60)
    | st.binary(max_size=30)
    | json_values.map(json.dumps)
    | valid_frames().map(json.dumps)
    | mutated_frames().map(json.dumps)
    | garbled_texts()
)

FUZZ = settings(max_examples=300, deadline=None)


# -- the parser ---------------------------------------------------------------------------------


@FUZZ
@given(text=st.text() | st.binary(), version=versions)
def test_unpack_arbitrary_input(text: str | bytes, version: str | None) -> None:
    assert outcome_of(text, version) == expected_outcome(text, version)


@FUZZ
@given(value=json_values, version=versions)
def test_unpack_arbitrary_json(value: Any, version: str | None) -> None:
    text = json.dumps(value)
    assert outcome_of(text, version) == expected_outcome(text, version)


@FUZZ
@given(frame=mutated_frames(), version=versions)
def test_unpack_mutated_frames(frame: list[Any], version: str | None) -> None:
    text = json.dumps(frame)
    assert outcome_of(text, version) == expected_outcome(text, version)


@FUZZ
@given(text=garbled_texts(), version=versions)
def test_unpack_garbled_frames(text: str, version: str | None) -> None:
    assert outcome_of(text, version) == expected_outcome(text, version)


# -- the whole inbound path -----------------------------------------------------------------------


def central_system(version: str) -> type[ChargePoint]:
    pkg = PACKAGES[version]

    class CentralSystem(pkg.ChargePoint):  # type: ignore[name-defined,misc]
        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return pkg.call_result.Heartbeat(current_time=TIME)

    return CentralSystem


CENTRAL_SYSTEMS = {version: central_system(version) for version in VERSIONS}
# A valid CALL, marked so that the test knows it must get its CALLRESULT.
VALID = object()


@settings(max_examples=100, deadline=None)
@given(
    version=st.sampled_from(VERSIONS),
    script=st.lists(st.just(VALID) | any_messages, max_size=25),
    limit=st.integers(1, 6),
)
async def test_inbound_path_survives_anything_and_loses_nothing_valid(
    version: str, script: list[Any], limit: int
) -> None:
    connection = MemoryConnection()
    cp = CENTRAL_SYSTEMS[version]("CP", connection, ping_interval=0, max_invalid_frames=limit)
    delivered = invalid = misbehaviour = replies = errors = 0
    async with trio.open_nursery() as nursery:  # a crash in the ChargePoint fails the test here
        nursery.start_soon(cp.start)
        for n, item in enumerate(script):
            message = json.dumps([2, f"valid-{n}", "Heartbeat", {}]) if item is VALID else item
            connection.deliver(message)
            delivered += 1
            await trio.testing.wait_all_tasks_blocked()  # the frame is handled, and answered
            sent = [json.loads(frame) for frame in connection.sent()]
            replies += len(sent)
            errors += sum(frame[0] == 4 for frame in sent)
            frame = None
            if isinstance(message, bytes):  # binary is never OCPP-J, and never answered
                bad, reply = True, None
            else:
                try:
                    frame = unpack(message, version)  # type: ignore[arg-type]
                except exceptions.OCPPError as exc:
                    bad, reply = True, exc.reply
                else:
                    bad, reply = False, None
            if bad:
                invalid += 1
                assert sent == ([] if reply is None else [json.loads(pack(reply))])
            elif item is VALID:
                assert sent == [[3, f"valid-{n}", {"currentTime": TIME}]]
            elif isinstance(frame, Call):
                assert [(f[0] in (3, 4), f[1]) for f in sent] == [(True, frame.unique_id)]
            else:
                assert sent == []  # results, errors and SENDs are never answered
            # CONFORMANCE 25: invalid frames, responses to no call and SENDs nobody handles (no
            # handler here) count up; valid CALLs and CALLRESULTERRORs count down, not below 0.
            unanswerable = isinstance(frame, CallResult | CallError | Send)
            if bad or (unanswerable and not isinstance(frame, CallResultError)):
                misbehaviour += 1
            else:
                misbehaviour = max(0, misbehaviour - 1)
            if misbehaviour == limit:
                assert connection.close_code == 1002
                break
            assert connection.close_code is None
        else:
            connection.hang_up()
    stats = cp.statistics()
    assert (stats.frames_received, stats.invalid_frames) == (delivered, invalid)
    assert (stats.frames_sent, stats.errors_sent) == (replies, errors)
    assert (stats.handlers_running, stats.calls_pending) == (0, 0)


def test_oracle_knows_a_call_error_from_a_call() -> None:
    # The oracle itself, on one frame of each outcome.
    assert expected_outcome('[2,"1","Heartbeat",{}]', "1.6") == ("frame", 2)
    assert expected_outcome('[2,"1"]', "1.6") == ("reply", "1", "ProtocolError")
    assert expected_outcome('[3,"1"]', "2.1") == ("silent",)
    assert expected_outcome("[9]", "2.0.1") == ("reply", "-1", "MessageTypeNotSupported")
    assert isinstance(unpack('[4,"1","GenericError","",{}]'), CallError)

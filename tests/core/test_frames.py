"""The frame rules of CONFORMANCE 8-15 and 19-20, for each version's spelling of the codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trio_ocpp import exceptions
from trio_ocpp._core import frames as _frames
from trio_ocpp._core import json_codec as _json
from trio_ocpp.messages import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    MessageType,
    Send,
    pack,
    unpack,
)

VERSIONS = ["1.6", "2.0.1", "2.1"]


@pytest.fixture(autouse=True, params=["fast", "json"])
def json_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule holds with orjson and jsonschema-rs (when installed) and with the standard
    library alone (and python checking the nesting)."""
    if request.param == "json":
        monkeypatch.setattr(_frames, "_loads", _json.std_loads)
        monkeypatch.setattr(_frames, "_dumps", _json.std_dumps)
        monkeypatch.setattr(_frames, "_SHALLOW", None)


# The code each version uses for a frame that is not valid RPC (CONFORMANCE 19a/b).
RPC_CODE = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError", "2.1": "RpcFrameworkError"}


def reply_of(text: str | bytes, version: str | None) -> CallError | None:
    with pytest.raises(exceptions.OCPPError) as info:
        unpack(text, version)  # type: ignore[arg-type]
    return info.value.reply


# -- rule 8: message type ids -------------------------------------------------------------------


def test_message_type_ids() -> None:
    assert [m.value for m in MessageType] == [2, 3, 4, 5, 6]
    assert MessageType.Call == 2 and MessageType.Send == 6


@pytest.mark.parametrize("version", VERSIONS)
def test_2_1_types_exist_only_in_2_1(version: str) -> None:
    frames = ['[5,"a","GenericError","",{}]', '[6,"a","NotifyPeriodicEventStream",{}]']
    for text in frames:
        if version == "2.1":
            assert isinstance(unpack(text, version), CallResultError | Send)  # type: ignore[arg-type]
        else:
            # Unknown in 1.6 and 2.0.1: rule 20 decides what happens.
            with pytest.raises(exceptions.MessageTypeNotSupportedError):
                unpack(text, version)  # type: ignore[arg-type]


# -- rules 9-13: the shape of each frame --------------------------------------------------------


@pytest.mark.parametrize("version", [*VERSIONS, None])
def test_well_formed_frames_parse(version: str | None) -> None:
    assert unpack('[2,"19223201","BootNotification",{"a":1}]', version) == Call(  # type: ignore[arg-type]
        "19223201", "BootNotification", {"a": 1}
    )
    assert unpack('[3,"19223201",{"status":"Accepted"}]', version) == CallResult(  # type: ignore[arg-type]
        "19223201", {"status": "Accepted"}
    )
    assert unpack('[4,"1","NotSupported","",{}]', version) == CallError(  # type: ignore[arg-type]
        "1", "NotSupported", "", {}
    )


def test_actions_are_case_sensitive_and_kept_verbatim() -> None:
    call = unpack('[2,"1","bootnotification",{}]')
    assert isinstance(call, Call) and call.action == "bootnotification"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","Heartbeat",{},{}]',  # too many elements
        '[2,"1",{}]',  # too few
        '[2,1,"Heartbeat",{}]',  # id not a string
        '[2,"1",7,{}]',  # action not a string
        '[2,"1","Heartbeat",null]',  # payload null, not {}
        '[2,"1","Heartbeat",[]]',  # payload not an object
    ],
)
def test_malformed_call_is_answered(version: str, text: str) -> None:
    reply = reply_of(text, version)
    assert reply is not None
    frame = json.loads(reply.to_json())
    assert frame[0] == 4
    assert len(frame) == 5
    expected_id = "1" if isinstance(json.loads(text)[1], str) else "-1"
    assert frame[1] == expected_id
    expected_code = RPC_CODE[version]
    if version == "1.6" and text == '[2,"1",{}]':
        expected_code = "ProtocolError"  # 1.6: a CALL with too few elements
    assert frame[2] == expected_code
    assert isinstance(frame[3], str) and frame[4] == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_call_id_longer_than_36_is_answered_with_minus_one(version: str) -> None:
    long_id = "x" * 37
    reply = reply_of(f'[2,"{long_id}","Heartbeat",{{}}]', version)
    assert reply is not None and reply.unique_id == "-1"
    assert reply.error_code == RPC_CODE[version]
    # 36 characters is allowed.
    assert unpack(f'[2,"{"x" * 36}","Heartbeat",{{}}]').unique_id == "x" * 36  # type: ignore[union-attr]


def test_call_with_wrong_count_and_unreadable_id_uses_minus_one() -> None:
    reply = reply_of('[2,{"id":1},"Heartbeat",{},5]', "2.0.1")
    assert reply is not None and reply.unique_id == "-1"


@pytest.mark.parametrize("version", VERSIONS)
def test_an_empty_id_is_a_readable_id(version: str) -> None:
    # "" is a string of at most 36 characters: the answer keeps it (found by test_fuzz).
    reply = reply_of('[2,"","Heartbeat"]', version)
    assert reply is not None and reply.unique_id == ""
    if version == "2.0.1":
        reply = reply_of('[6,"","Heartbeat",{}]', version)
        assert reply is not None and reply.unique_id == ""


# -- rule 19a: not JSON, not an array, no readable message type id ------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "text",
    [
        "not json at all",
        '[2,"1","Heartbeat",{}',  # truncated
        '{"a": 1}',  # an object
        '"text"',
        "[]",
        '["2","1","Heartbeat",{}]',  # type id as string
        '[true,"1","Heartbeat",{}]',  # bool is no type id
        '[2.0,"1","Heartbeat",{}]',
        '[null,"1","Heartbeat",{}]',
        '[2,"1","Heartbeat",{"x": NaN}]',  # NaN is not JSON
        '[2,"1","Heartbeat",{"x": Infinity}]',
        b'[2,"1","Heartbeat",{"x":"\xff"}]',  # not UTF-8
        "[" * 100_000 + "]" * 100_000,  # nesting too deep for the parser
    ],
)
def test_unreadable_frames_get_minus_one(version: str, text: str | bytes) -> None:
    reply = reply_of(text, version)
    assert reply is not None
    assert reply.unique_id == "-1"
    assert reply.error_code == RPC_CODE[version]
    # The invalid text is never embedded as raw JSON in the answer.
    answer = reply.to_json()
    json.loads(answer)
    assert answer.startswith('[4,"-1",')


# -- rule 19c: malformed frames of types 3, 4, 5, 6 are never answered ---------------------------


@pytest.mark.parametrize(
    "text",
    [
        '[3,"1"]',
        '[3,"1",{},{}]',
        "[3,1,{}]",
        '[3,"1",null]',
        '[3,"' + "x" * 37 + '",{}]',
        '[4,"1","GenericError",""]',
        '[4,"1","GenericError","",null]',
        '[4,"1",5,"",{}]',
        '[4,"1","GenericError",null,{}]',
        '[5,"1","GenericError",""]',
        '[6,"1","NotifyPeriodicEventStream"]',
        '[6,"1",3,{}]',
        '[6,"1","NotifyPeriodicEventStream",[]]',
    ],
)
def test_malformed_non_calls_get_no_answer(text: str) -> None:
    assert reply_of(text, "2.1") is None


# -- rule 20: unknown message type ids ----------------------------------------------------------


@pytest.mark.parametrize("version", ["1.6", "2.1"])
def test_unknown_message_type_is_ignored(version: str) -> None:
    assert reply_of('[9,"abc",{}]', version) is None


def test_unknown_message_type_is_answered_in_2_0_1() -> None:
    reply = reply_of('[9,"abc",{}]', "2.0.1")
    assert reply == CallError("abc", "MessageTypeNotSupported", reply.error_description, {})  # type: ignore[union-attr]
    reply = reply_of("[9]", "2.0.1")
    assert reply is not None and reply.unique_id == "-1"


# -- rules 11, 14, 15: serializing ----------------------------------------------------------------


def test_pack_is_compact_json() -> None:
    assert pack(Call("1", "Heartbeat", {})) == '[2,"1","Heartbeat",{}]'
    assert pack(CallResult("1", {"status": "Accepted"})) == '[3,"1",{"status":"Accepted"}]'
    assert pack(CallError("1", "GenericError")) == '[4,"1","GenericError","",{}]'
    assert pack(CallResultError("1", "GenericError")) == '[5,"1","GenericError","",{}]'
    assert (
        pack(Send("1", "NotifyPeriodicEventStream", {})) == '[6,"1","NotifyPeriodicEventStream",{}]'
    )


def test_numbers_round_trip_exactly() -> None:
    text = '[2,"1","SetChargingProfile",{"limit":21.4,"n":10,"f":1.0,"e":0.30000000000000004}]'
    call = unpack(text)
    assert pack(call) == text
    assert call.payload["limit"] == 21.4 and type(call.payload["n"]) is int  # type: ignore[union-attr]


def test_unicode_is_utf8_not_escaped() -> None:
    text = '[2,"1","DataTransfer",{"vendorId":"Zürich ⚡"}]'
    assert pack(unpack(text)) == text


def test_pack_refuses_non_json_numbers() -> None:
    with pytest.raises(ValueError):
        pack(Call("1", "X", {"v": float("nan")}))


# -- creating answers ----------------------------------------------------------------------------


def test_call_result_remembers_its_action() -> None:
    result = Call("42", "Heartbeat", {}).create_call_result({"currentTime": "t"})
    assert result == CallResult("42", {"currentTime": "t"}, action="Heartbeat")
    assert pack(result) == '[3,"42",{"currentTime":"t"}]'  # the action is not on the wire


@pytest.mark.parametrize(
    ("version", "code"),
    [("1.6", "OccurenceConstraintViolation"), ("2.0.1", "OccurrenceConstraintViolation")],
)
def test_call_error_code_is_spelled_for_the_version(version: str, code: str) -> None:
    error = Call("7", "Authorize", {}).create_call_error(
        exceptions.OccurrenceConstraintViolationError("idTag missing"),
        version,  # type: ignore[arg-type]
    )
    assert error == CallError("7", code, "idTag missing", {})


def test_unexpected_exception_becomes_generic_internal_error() -> None:
    error = Call("7", "Authorize", {}).create_call_error(KeyError("secret internals"))
    assert error.error_code == "InternalError"
    assert "secret" not in error.to_json()


@pytest.mark.parametrize("version", VERSIONS)
def test_descriptions_are_capped_at_255_in_every_version(version: str) -> None:
    exc = exceptions.GenericError("x" * 1000)
    error = Call("1", "A", {}).create_call_error(exc, version)  # type: ignore[arg-type]
    assert len(error.error_description) == 255


# --- what goes back out is always sendable (CONFORMANCE 40) ---------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_an_id_with_a_lone_surrogate_is_echoed_back_as_it_came(version: str) -> None:
    call = unpack('[2,"\\ud800","Heartbeat",{}]', version)  # type: ignore[arg-type]
    assert isinstance(call, Call)
    for answer in (
        call.create_call_result({}),
        call.create_call_error(exceptions.GenericError("x"), version),  # type: ignore[arg-type]
    ):
        text = answer.to_json()
        text.encode()
        assert json.loads(text)[1] == "\ud800"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_description_quoting_the_peer_is_bounded_and_sendable(version: str) -> None:
    call = unpack('[2,"1","\\ud800' + "A" * 100_000 + '",{}]', version)  # type: ignore[arg-type]
    assert isinstance(call, Call)
    exc = exceptions.NotImplementedError(f"{call.action} is not a known action")
    error = call.create_call_error(exc, version)  # type: ignore[arg-type]
    assert len(error.error_description) == 255
    error.to_json().encode()


# --- nesting (CONFORMANCE 41) ---------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    """A payload of ``depth`` levels of objects, customData style."""
    payload: dict[str, Any] = {}
    for _ in range(depth - 1):
        payload = {"vendorId": "v", "x": payload}
    return payload


@pytest.mark.parametrize("version", VERSIONS)
def test_a_payload_as_deep_as_the_limit_is_read(version: str) -> None:
    text = json.dumps([2, "1", "DataTransfer", nested(_frames.MAX_NESTING)])
    assert isinstance(unpack(text, version), Call)  # type: ignore[arg-type]
    text = json.dumps([2, "1", "DataTransfer", {"data": [[[[[[[[1]]]]]]]] * 50}])
    assert isinstance(unpack(text, version), Call)  # type: ignore[arg-type]


@pytest.mark.parametrize("depth", [_frames.MAX_NESTING + 1, 500])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_call_nested_too_deep_is_a_format_violation(version: str, depth: int) -> None:
    text = json.dumps([2, "1", "DataTransfer", nested(depth)])
    reply = reply_of(text, version)
    assert reply is not None
    assert reply.unique_id == "1"
    assert reply.error_code == ("FormationViolation" if version == "1.6" else "FormatViolation")
    assert str(_frames.MAX_NESTING) in reply.error_description


@pytest.mark.parametrize("version", VERSIONS)
def test_a_frame_with_too_many_arrays_and_objects_is_refused_before_parsing(version: str) -> None:
    most = _frames.MAX_CONTAINERS
    text = json.dumps([2, "1", "DataTransfer", {"vendorId": "v", "data": [[]] * (most - 3)}])
    assert isinstance(unpack(text, version), Call)  # type: ignore[arg-type]
    for frame in (
        [2, "1", "DataTransfer", {"vendorId": "v", "data": [[]] * (most - 2)}],
        [3, "1", {"data": "[" * most}],  # in strings too: they are counted before parsing
    ):
        reply = reply_of(json.dumps(frame), version)
        assert reply is not None
        assert reply.unique_id == "-1"
        assert reply.error_code == RPC_CODE[version]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_deep_payload_with_a_lone_surrogate_is_checked_too(version: str) -> None:
    # jsonschema-rs cannot read the surrogate; python walks the frame instead.
    text = json.dumps([2, "1", "DataTransfer", {"k": "\ud800", **nested(_frames.MAX_NESTING + 1)}])
    reply = reply_of(text, version)
    assert reply is not None and str(_frames.MAX_NESTING) in reply.error_description


@pytest.mark.parametrize("version", VERSIONS)
def test_a_call_result_nested_too_deep_is_not_answered(version: str) -> None:
    text = json.dumps([3, "1", {"a": [nested(_frames.MAX_NESTING)]}])
    assert reply_of(text, version) is None
    assert reply_of(text.encode(), version) is None


def test_call_result_error_answers_a_bad_call_result() -> None:
    bad = CallResult("9", {"status": 3})
    answer = bad.create_call_result_error(exceptions.TypeConstraintViolationError("status"), "2.1")
    assert pack(answer) == '[5,"9","TypeConstraintViolation","status",{}]'


def test_received_call_error_maps_back_to_its_exception() -> None:
    frame = unpack('[4,"1","FormationViolation","bad",{"k":1}]', "1.6")
    assert isinstance(frame, CallError)
    exc = frame.to_exception()
    assert isinstance(exc, exceptions.FormatViolationError)
    assert (exc.description, exc.details) == ("bad", {"k": 1})


def test_frames_are_frozen() -> None:
    call = Call("1", "Heartbeat", {})
    with pytest.raises(AttributeError):
        call.action = "Other"  # type: ignore[misc]


def _all_frames() -> list[Any]:
    return [
        Call("1", "Heartbeat", {}),
        CallResult("1", {}),
        CallError("1", "GenericError", "d", {"a": 1}),
        CallResultError("1", "GenericError"),
        Send("1", "NotifyPeriodicEventStream", {"id": 1}),
    ]


@pytest.mark.parametrize("frame", _all_frames(), ids=lambda f: type(f).__name__)
def test_unpack_inverts_pack(frame: Any) -> None:
    assert unpack(pack(frame), "2.1") == frame

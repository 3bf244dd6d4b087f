"""OCPP-J frames: the five RPC message types, parsing (``unpack``) and serializing (``pack``).

Sans-I/O: no trio, no sockets. ``unpack`` enforces the frame rules of CONFORMANCE 8-15 and 19-20;
a bad frame raises an :class:`~trio_ocpp.exceptions.OCPPError` whose ``reply`` is the CALLERROR to
send back, or ``None`` when the rules say the frame gets no answer (malformed CALLRESULT, CALLERROR,
CALLRESULTERROR or SEND frames, and unknown message types in 1.6 and 2.1).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import attrs

from . import errors
from .json_codec import dumps as _dumps
from .json_codec import loads as _loads
from .versions import OCPPVersion

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - it is a dependency; the walk below is the fallback
    jsonschema_rs = None  # type: ignore[assignment]

__all__ = [
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Frame",
    "MessageType",
    "Send",
    "pack",
    "unpack",
]

#: Longest message id a peer may use (OCPP-J: a string of at most 36 characters).
MAX_ID_LENGTH: Final = 36
#: Longest CALLERROR description: the 2.x limit, kept in 1.6 too (CONFORMANCE 40).
MAX_DESCRIPTION: Final = 255
#: Deepest nesting of arrays and objects in a payload, the payload object counted as 1
#: (CONFORMANCE 41). The deepest OCPP schema needs 13; the rest is room for customData and
#: vendor data. A deeper frame is refused before anything walks it recursively.
MAX_NESTING: Final = 32
#: Most arrays and objects in a frame, counted as its opening brackets before it is parsed (a
#: bracket inside a string counts too). Parsing, checking and renaming cost python work per
#: container: 1 MiB of ``[[[]]]`` is 500,000 of them and held the event loop for 0.5-1 s. No OCPP
#: message needs this many (a 1,024-period charging schedule has ~1,100); a frame with more is
#: answered like one that is not JSON, with id "-1".
MAX_CONTAINERS: Final = 50_000
#: Id of the CALLERROR that answers a frame whose own id cannot be read (2.x section 4.2.3).
UNREADABLE_ID: Final = "-1"

_GENERIC_INTERNAL_ERROR = "An unexpected error occurred while handling the request"


class MessageType(enum.IntEnum):
    """The message type id, the first element of every OCPP-J frame."""

    Call = 2
    CallResult = 3
    CallError = 4
    CallResultError = 5  # 2.1
    Send = 6  # 2.1


def _error_reply(
    unique_id: str, exc: BaseException, ocpp_version: OCPPVersion | None, action: str | None
) -> CallError:
    if isinstance(exc, errors.OCPPError):
        code = exc.code_for(ocpp_version)
        description = exc.description
        details = exc.details
    else:
        # Never leak internals of an unexpected exception to the peer (CONFORMANCE 22).
        code, description, details = "InternalError", _GENERIC_INTERNAL_ERROR, {}
    # A description may quote the peer (a 100 KB action); what it quotes is written as valid
    # UTF-8 whatever it holds (_json).
    return CallError(unique_id, code, description[:MAX_DESCRIPTION], details, action)


@attrs.frozen
class Call:
    """``[2, unique_id, action, payload]``: a request that expects a CALLRESULT or CALLERROR."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    message_type_id: ClassVar[MessageType] = MessageType.Call

    def to_json(self) -> str:
        return _dumps([2, self.unique_id, self.action, self.payload])

    def create_call_result(self, payload: dict[str, Any]) -> CallResult:
        """The answer to this call; it remembers the action so that it can be validated."""
        return _call_result(self.unique_id, payload, self.action)

    def create_call_error(
        self, exception: BaseException, ocpp_version: OCPPVersion | None = None
    ) -> CallError:
        """The CALLERROR for ``exception``, its code spelled for ``ocpp_version``.

        An exception that is not an :class:`OCPPError` becomes a generic InternalError.
        """
        return _error_reply(self.unique_id, exception, ocpp_version, self.action)


@attrs.frozen
class CallResult:
    """``[3, unique_id, payload]``: the successful answer to a CALL with the same id."""

    unique_id: str
    payload: dict[str, Any]
    #: The action of the CALL answered; not on the wire, known once matched to its CALL.
    action: str | None = None
    message_type_id: ClassVar[MessageType] = MessageType.CallResult

    def to_json(self) -> str:
        return _dumps([3, self.unique_id, self.payload])

    def create_call_result_error(
        self, exception: BaseException, ocpp_version: OCPPVersion | None = None
    ) -> CallResultError:
        """The 2.1 CALLRESULTERROR answering this (bad) CALLRESULT."""
        reply = _error_reply(self.unique_id, exception, ocpp_version, self.action)
        return CallResultError(*attrs.astuple(reply, recurse=False))


@attrs.frozen
class CallError:
    """``[4, unique_id, error_code, error_description, error_details]``."""

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = attrs.field(factory=dict)
    #: The action of the CALL (or CALLRESULT) answered, as with :class:`CallResult`; not on the
    #: wire, nor compared.
    action: str | None = attrs.field(default=None, eq=False)
    message_type_id: ClassVar[MessageType] = MessageType.CallError

    def to_json(self) -> str:
        return _dumps(
            [
                int(self.message_type_id),
                self.unique_id,
                self.error_code,
                self.error_description,
                self.error_details,
            ]
        )

    def to_exception(self) -> errors.OCPPError:
        """The exception this error stands for, whichever version spelled its code."""
        return errors.error_from_code(self.error_code, self.error_description, self.error_details)


@attrs.frozen
class CallResultError(CallError):
    """2.1 ``[5, unique_id, code, description, details]``: the answer to a bad CALLRESULT."""

    message_type_id: ClassVar[MessageType] = MessageType.CallResultError


@attrs.frozen
class Send:
    """2.1 ``[6, unique_id, action, payload]``: a one-way message; it is never answered."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    message_type_id: ClassVar[MessageType] = MessageType.Send

    def to_json(self) -> str:
        return _dumps([6, self.unique_id, self.action, self.payload])


Frame = Call | CallResult | CallError | CallResultError | Send
F = TypeVar("F", Call, CallResult, Send)


def _maker(cls: type[F]) -> Callable[[Any, Any, Any], F]:
    """``cls(a, b, c)`` for a frame class of three fields, setting its slots directly: the
    ``__init__`` of a frozen attrs class goes through ``object.__setattr__`` per field, twice
    the time, and every message makes a frame or two."""
    first, second, third = (getattr(cls, field.name).__set__ for field in attrs.fields(cls))
    new = object.__new__

    def make(a: Any, b: Any, c: Any) -> F:
        frame = new(cls)
        first(frame, a)
        second(frame, b)
        third(frame, c)
        return frame

    return make


_call = _maker(Call)  # (unique_id, action, payload)
_call_result = _maker(CallResult)  # (unique_id, payload, action)
_send = _maker(Send)  # (unique_id, action, payload)


def pack(message: Frame) -> str:
    """Serialize a frame as compact JSON text."""
    return message.to_json()


# Which message types each version knows; None (version not known yet) accepts all of them.
_KNOWN_TYPES: Final[dict[OCPPVersion | None, frozenset[int]]] = {
    "1.6": frozenset({2, 3, 4}),
    "2.0.1": frozenset({2, 3, 4}),
    "2.1": frozenset({2, 3, 4, 5, 6}),
    None: frozenset({2, 3, 4, 5, 6}),
}


def _readable_id(frame: list[Any]) -> str | None:
    if len(frame) > 1:
        unique_id = frame[1]
        if isinstance(unique_id, str) and len(unique_id) <= MAX_ID_LENGTH:
            return unique_id
    return None


def _answer_id(frame: list[Any]) -> str:
    """The id to answer a bad frame with: its own when readable (``""`` is), else ``"-1"``."""
    unique_id = _readable_id(frame)
    return UNREADABLE_ID if unique_id is None else unique_id


def _bad_frame(
    error: type[errors.OCPPError],
    description: str,
    *,
    answer_id: str | None,
    ocpp_version: OCPPVersion | None,
) -> errors.OCPPError:
    """An error for a bad frame; ``answer_id`` None means the frame gets no answer."""
    exc = error(description)
    if answer_id is not None:
        exc.reply = _error_reply(answer_id, exc, ocpp_version, None)
    return exc


def _rpc_error(ocpp_version: OCPPVersion | None) -> type[errors.OCPPError]:
    # 2.x has RpcFrameworkError; 1.6 answers the same faults with FormationViolation.
    if ocpp_version == "1.6":
        return errors.FormationViolationError
    return errors.RpcFrameworkError


def unpack(text: str | bytes, ocpp_version: OCPPVersion | None = None) -> Frame:
    """Parse one OCPP-J frame.

    ``ocpp_version`` picks the message types accepted and the spelling of the error codes;
    None accepts every type (2-6) and spells codes the 2.x way.
    """
    # A text this short holds neither too many containers nor too deep ones: not even counted.
    brackets = 0 if len(text) <= _SHORT else _brackets(text)
    if brackets > MAX_CONTAINERS:
        raise _bad_frame(
            _rpc_error(ocpp_version),
            f"Message holds more than {MAX_CONTAINERS} arrays and objects",
            answer_id=UNREADABLE_ID,
            ocpp_version=ocpp_version,
        )
    try:
        frame = _loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _bad_frame(
            _rpc_error(ocpp_version),
            "Message is not valid JSON",
            answer_id=UNREADABLE_ID,
            ocpp_version=ocpp_version,
        ) from None
    if not isinstance(frame, list) or not frame:
        raise _bad_frame(
            _rpc_error(ocpp_version),
            "Message is not a JSON array",
            answer_id=UNREADABLE_ID,
            ocpp_version=ocpp_version,
        )
    message_type = frame[0]
    if type(message_type) is not int:  # bool is an int subclass, and not a message type
        raise _bad_frame(
            _rpc_error(ocpp_version),
            "Message type id is not an integer",
            answer_id=UNREADABLE_ID,
            ocpp_version=ocpp_version,
        )

    if message_type not in _KNOWN_TYPES[ocpp_version]:
        # 2.0.1 answers unknown message types; 1.6 and 2.1 ignore them (CONFORMANCE 20).
        answer_id = _answer_id(frame) if ocpp_version == "2.0.1" else None
        raise _bad_frame(
            errors.MessageTypeNotSupportedError,
            f"Message type {message_type} is not supported",
            answer_id=answer_id,
            ocpp_version=ocpp_version,
        )

    # The frame is one level more than its payload; fewer brackets cannot nest deeper.
    if brackets > MAX_NESTING + 1 and _nested_too_deep(frame):
        # A CALL gets an answer (CONFORMANCE 41); other frames none (19c).
        raise _bad_frame(
            errors.FormatViolationError,
            f"Payload nested deeper than {MAX_NESTING} levels",
            answer_id=_answer_id(frame) if message_type == 2 else None,
            ocpp_version=ocpp_version,
        )
    # MessageType.Call: an enum member looked up on its class costs ~150 ns on Python 3.11
    # (EnumType's __getattr__ slows every attribute look-up on the class), so numbers here.
    if message_type == 2:
        return _unpack_call(frame, ocpp_version)
    parsed: Frame | None
    if message_type == 3 or message_type == 6:  # CallResult, Send (enum look-ups cost)
        parsed = _unpack_result_or_send(frame)
    else:
        parsed = _unpack_error(frame)
    if parsed is None:
        # Malformed non-CALL frames are never answered (CONFORMANCE 19c).
        raise _bad_frame(
            _rpc_error(ocpp_version),
            f"Malformed message of type {message_type}",
            answer_id=None,
            ocpp_version=ocpp_version,
        )
    return parsed


_SHORT: Final = 2 * (MAX_NESTING + 1)


def _brackets(text: str | bytes) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _depth_schema(levels: int) -> dict[str, Any]:
    """A schema that accepts a value nested at most ``levels`` deep: containers at each level
    hold values of the next, and past the last only scalars."""
    defs: dict[str, Any] = {f"L{levels + 1}": {"type": ["string", "number", "boolean", "null"]}}
    for level in range(1, levels + 1):
        inner = {"$ref": f"#/$defs/L{level + 1}"}
        defs[f"L{level}"] = {"items": inner, "additionalProperties": inner}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/L1",
        "$defs": defs,
    }


# jsonschema-rs walks a frame 3-7 times as fast as python, and stops at the first too-deep value.
_SHALLOW = (
    None
    if jsonschema_rs is None
    else jsonschema_rs.validator_for(_depth_schema(MAX_NESTING + 1)).is_valid
)


def _nested_too_deep(frame: list[Any]) -> bool:
    if _SHALLOW is not None:
        try:
            return not _SHALLOW(frame)
        except ValueError:  # not JSON to it (a lone surrogate): python walks it
            pass
    return _walk_too_deep(frame)


def _walk_too_deep(frame: list[Any]) -> bool:
    level: list[Any] = [frame]
    for _ in range(MAX_NESTING + 1):
        inner = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    inner.append(child)
        if not inner:
            return False
        level = inner
    return True


def _unpack_call(frame: list[Any], ocpp_version: OCPPVersion | None) -> Call:
    if len(frame) != 4:
        # 1.6 calls a CALL that lacks elements a ProtocolError ("payload incomplete").
        too_few = ocpp_version == "1.6" and len(frame) < 4
        error = errors.ProtocolError if too_few else _rpc_error(ocpp_version)
        raise _bad_frame(
            error,
            f"CALL must have 4 elements, not {len(frame)}",
            answer_id=_answer_id(frame),
            ocpp_version=ocpp_version,
        )
    _, unique_id, action, payload = frame
    if not isinstance(unique_id, str) or len(unique_id) > MAX_ID_LENGTH:
        problem = "Message id is not a string of at most 36 characters"
    elif not isinstance(action, str):
        problem = "Action is not a string"
    elif not isinstance(payload, dict):
        problem = "Payload is not a JSON object"
    else:
        return _call(unique_id, action, payload)
    raise _bad_frame(
        _rpc_error(ocpp_version), problem, answer_id=_answer_id(frame), ocpp_version=ocpp_version
    )


def _unpack_result_or_send(frame: list[Any]) -> CallResult | Send | None:
    if frame[0] == 3:  # MessageType.CallResult
        if len(frame) == 3 and _readable_id(frame) is not None and isinstance(frame[2], dict):
            return _call_result(frame[1], frame[2], None)
    elif (
        len(frame) == 4
        and _readable_id(frame) is not None
        and isinstance(frame[2], str)
        and isinstance(frame[3], dict)
    ):
        return _send(frame[1], frame[2], frame[3])
    return None


def _unpack_error(frame: list[Any]) -> CallError | None:
    if (
        len(frame) == 5
        and _readable_id(frame) is not None
        and isinstance(frame[2], str)
        and isinstance(frame[3], str)
        and isinstance(frame[4], dict)
    ):
        cls = CallError if frame[0] == 4 else CallResultError  # 4: MessageType.CallError
        return cls(frame[1], frame[2], frame[3], frame[4])
    return None

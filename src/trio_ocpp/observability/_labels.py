"""Label values a peer cannot multiply: what a peer chooses (an action name, an error code, a
close code) becomes a label only when it is one of a known set, else ``"other"``."""

from __future__ import annotations

from .._core import close_codes
from .._core.errors import ERROR_CODES
from .._core.frames import Call, CallError, CallResult, CallResultError, Frame, Send
from .._core.schemas import MessageKind, actions
from .._core.versions import VERSIONS

OTHER = "other"

#: Each version's actions, both directions, CALLs and SENDs.
_ACTIONS: dict[str, frozenset[str]] = {
    version: actions(version, MessageKind.REQUEST) | actions(version, MessageKind.SEND)
    for version in VERSIONS
}
_CLOSE_CODES = frozenset(
    value for name, value in vars(close_codes).items() if name.isupper() and isinstance(value, int)
)
#: A message type's label, by frame class (a CALLRESULTERROR is a CallError too: exact types).
_TYPES: dict[type, str] = {
    Call: "call",
    CallResult: "callresult",
    CallError: "callerror",
    CallResultError: "callresulterror",
    Send: "send",
}


def action(version: str, name: str) -> str:
    """``name`` if ``version`` has such an action, else ``"other"``."""
    return name if name in _ACTIONS.get(version, ()) else OTHER


def error_code(code: str) -> str:
    return code if code in ERROR_CODES else OTHER


def close_code(code: int) -> str:
    return str(code) if code in _CLOSE_CODES else OTHER


def frame_type(frame: Frame | None) -> str:
    """The message type of a frame; ``"invalid"`` for what was no valid OCPP-J frame."""
    return "invalid" if frame is None else _TYPES[type(frame)]

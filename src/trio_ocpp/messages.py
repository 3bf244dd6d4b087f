"""OCPP-J messages: frames, parsing, serializing and payload validation.

The names are those of the ``ocpp`` package's ``ocpp.messages`` module, so ported code keeps its
imports apart from the package name (``get_validator`` takes its arguments, too);
``set_validation_engine`` and ``validation_engine`` choose and tell the engine that validates
payloads (jsonschema-rs or jsonschema). ``validate(version, action, kind, payload)`` takes a
:class:`MessageKind` or its value (``"request"``, ``"response"``, ``"send"``).
"""

from ._core.frames import Call as Call
from ._core.frames import CallError as CallError
from ._core.frames import CallResult as CallResult
from ._core.frames import CallResultError as CallResultError
from ._core.frames import Frame as Frame
from ._core.frames import MessageType as MessageType
from ._core.frames import Send as Send
from ._core.frames import pack as pack
from ._core.frames import unpack as unpack
from ._core.ocpp_helpers import get_validator as get_validator
from ._core.schemas import MessageKind as MessageKind
from ._core.validation import FormatPolicy as FormatPolicy
from ._core.validation import set_validation_engine as set_validation_engine
from ._core.validation import validate as validate
from ._core.validation import validate_payload as validate_payload
from ._core.validation import validation_engine as validation_engine

__all__ = [
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "FormatPolicy",
    "Frame",
    "MessageKind",
    "MessageType",
    "Send",
    "get_validator",
    "pack",
    "set_validation_engine",
    "unpack",
    "validate",
    "validate_payload",
    "validation_engine",
]

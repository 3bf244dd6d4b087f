"""The OCPP errors: one class per OCPP-J error code, each knowing its code in every version.

The whole tree, with the connection, handshake and cluster errors, is drawn and importable in
:mod:`trio_ocpp.exceptions`; these are its OCPP half, kept in the core because frames and
validation raise them. ``error.code_for("1.6")`` is the spelling sent on a 1.6 connection;
:func:`error_from_code` maps a received code, in either spelling, back to its class. Errors
raised by :func:`trio_ocpp.messages.unpack` also carry ``reply``: the CALLERROR frame to answer
the bad frame with, or ``None`` when the rules say it gets no answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .versions import OCPPVersion

__all__ = [
    "CallTimeoutError",
    "ClusterUnavailableError",
    "ConnectionClosedError",
    "FormatViolationError",
    "FormationViolationError",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupportedError",
    "NotConnectedError",
    "NotImplementedError",
    "NotSupportedError",
    "OCPPError",
    "OccurenceConstraintViolationError",
    "OccurrenceConstraintViolationError",
    "PropertyConstraintViolationError",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolationError",
    "UnknownCallErrorCodeError",
    "ValidationError",
    "error_from_code",
]


class OCPPError(Exception):
    """Base class: an error that travels as an OCPP-J CALLERROR.

    ``description`` is the human-readable text (the class default when not given) and
    ``details`` a small JSON object (``{}`` when there is nothing to add).
    """

    code: ClassVar[str] = "GenericError"
    #: The 1.6 spelling, where 1.6 spells the code differently or lacks it.
    code_16: ClassVar[str | None] = None
    default_description: ClassVar[str] = "An error occurred"

    description: str
    details: dict[str, Any]
    #: Set by ``frames.unpack``: the CallError frame that answers the bad frame (a frame is
    #: not named here: frames import this module).
    reply: Any

    def __init__(self, description: str | None = None, details: dict[str, Any] | None = None):
        self.description = self.default_description if description is None else description
        self.details = {} if details is None else details
        self.reply = None
        super().__init__(self.description, self.details)

    @classmethod
    def code_for(cls, ocpp_version: OCPPVersion | None) -> str:
        """The code as spelled on a connection of ``ocpp_version`` (None: the 2.x spelling)."""
        if ocpp_version == "1.6" and cls.code_16 is not None:
            return cls.code_16
        return cls.code

    def __str__(self) -> str:
        if self.details:
            return f"{self.description} {self.details}"
        return self.description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(description={self.description!r}, details={self.details!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, OCPPError)
        return (self.description, self.details) == (other.description, other.details)

    def __hash__(self) -> int:
        return hash((type(self), self.description))


class NotImplementedError(OCPPError):  # shadows the builtin: the ocpp package's name
    code = "NotImplemented"
    default_description = "Requested Action is not known by receiver"


class NotSupportedError(OCPPError):
    code = "NotSupported"
    default_description = "Requested Action is recognized but not supported by the receiver"


class InternalError(OCPPError):
    code = "InternalError"
    default_description = (
        "An internal error occurred and the receiver was not able to process the requested Action"
    )


class CallTimeoutError(InternalError):
    """``call()`` got no response in time. A response arriving later is logged and dropped.

    An InternalError, so that a handler whose own call back to the peer timed out answers with
    InternalError.
    """

    def __init__(
        self,
        description: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        action: str = "",
        unique_id: str = "",
        timeout: float = 0.0,
    ):
        if description is None:
            description = f"No response to {action} (id {unique_id}) within {timeout:g} s"
        super().__init__(description, details)
        self.action, self.unique_id, self.timeout = action, unique_id, timeout


class ConnectionClosedError(InternalError):
    """The connection closed while a ``call()`` waited for its response (or before it was sent)."""

    default_description = "The connection is closed"


class NotConnectedError(ConnectionClosedError):
    """``cluster.call``: no node holds a connection of that identity, or the node that held it
    is gone."""

    default_description = "No node holds that charge point"


class ClusterUnavailableError(InternalError):
    """``trio_ocpp.cluster``: the broker cannot be reached (or failed), so the cluster cannot
    route this now."""

    default_description = "The cluster broker is unavailable"


class ProtocolError(OCPPError):
    code = "ProtocolError"
    default_description = "Payload for Action is incomplete"


class SecurityError(OCPPError):
    code = "SecurityError"
    default_description = (
        "During the processing of Action a security issue occurred preventing receiver from "
        "completing the Action successfully"
    )


class FormatViolationError(OCPPError):
    code = "FormatViolation"
    code_16 = "FormationViolation"
    default_description = "Payload for Action is syntactically incorrect"


class FormationViolationError(FormatViolationError):
    """The 1.6 name of :class:`FormatViolationError`."""


class PropertyConstraintViolationError(OCPPError):
    code = "PropertyConstraintViolation"
    default_description = (
        "Payload is syntactically correct but at least one field contains an invalid value"
    )


class OccurrenceConstraintViolationError(OCPPError):
    code = "OccurrenceConstraintViolation"
    code_16 = "OccurenceConstraintViolation"
    default_description = (
        "Payload for Action is syntactically correct but at least one of the fields violates "
        "occurrence constraints"
    )


class OccurenceConstraintViolationError(OccurrenceConstraintViolationError):
    """The 1.6 spelling of :class:`OccurrenceConstraintViolationError`."""


class TypeConstraintViolationError(OCPPError):
    code = "TypeConstraintViolation"
    default_description = (
        "Payload for Action is syntactically correct but at least one of the fields violates "
        "data type constraints"
    )


class GenericError(OCPPError):
    code = "GenericError"
    default_description = "Any other error not covered by the previous ones"


class UnknownCallErrorCodeError(GenericError):
    """A CALLERROR arrived with a code that no OCPP version defines; ``received_code`` keeps it."""

    received_code: str

    def __init__(
        self,
        description: str | None = None,
        details: dict[str, Any] | None = None,
        received_code: str = "",
    ):
        super().__init__(description, details)
        self.received_code = received_code
        self.args = (self.description, self.details, received_code)


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    code_16 = "GenericError"
    default_description = "A message with a Message Type Number was received that is not supported"


class RpcFrameworkError(OCPPError):
    code = "RpcFrameworkError"
    code_16 = "FormationViolation"
    default_description = "Content of the call is not a valid RPC Request"


class ValidationError(ValueError):
    """``validate_payload`` was given a message it cannot validate: one of a type without a
    payload schema (a CallError), or a CallResult that does not say which action it answers.

    The ``ocpp`` package's name; a payload that fails its schema raises the OCPPError of the
    failing constraint instead (CONFORMANCE 18).
    """


_BY_CODE: dict[str, type[OCPPError]] = {
    cls.code: cls
    for cls in (
        NotImplementedError,
        NotSupportedError,
        InternalError,
        ProtocolError,
        SecurityError,
        FormatViolationError,
        PropertyConstraintViolationError,
        OccurrenceConstraintViolationError,
        TypeConstraintViolationError,
        GenericError,
        MessageTypeNotSupportedError,
        RpcFrameworkError,
    )
}
# The 1.6 spellings map to the classes named after them (subclasses of the 2.x ones).
_BY_CODE["FormationViolation"] = FormationViolationError
_BY_CODE["OccurenceConstraintViolation"] = OccurenceConstraintViolationError
#: Every CALLERROR code of every version, both spellings where two exist.
ERROR_CODES = frozenset(_BY_CODE)


def error_from_code(
    code: str, description: str = "", details: dict[str, Any] | None = None
) -> OCPPError:
    """The exception for a received CALLERROR, whichever version's spelling ``code`` uses."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return UnknownCallErrorCodeError(description, details, received_code=code)
    return cls(description, details)

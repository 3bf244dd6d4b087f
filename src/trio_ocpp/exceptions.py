"""The errors of trio-ocpp: one tree, every class importable from here.

::

    Exception
     ├── OCPPError                              travels as a CALLERROR; code: GenericError
     │    ├── NotImplementedError               NotImplemented
     │    ├── NotSupportedError                 NotSupported
     │    ├── InternalError                     InternalError
     │    │    ├── CallTimeoutError             no response to a call() within its timeout
     │    │    ├── ConnectionClosedError        the connection ended before the response came
     │    │    │    └── NotConnectedError       cluster.call(): no node holds the charge point
     │    │    └── ClusterUnavailableError      cluster: the broker cannot be reached
     │    ├── ProtocolError                     ProtocolError
     │    ├── SecurityError                     SecurityError
     │    ├── FormatViolationError              FormatViolation        (1.6: FormationViolation)
     │    │    └── FormationViolationError      the 1.6 name, for code ported from the ocpp package
     │    ├── PropertyConstraintViolationError  PropertyConstraintViolation
     │    ├── OccurrenceConstraintViolationError  OccurrenceConstraintViolation
     │    │    └── OccurenceConstraintViolationError  1.6 spelling ("Do not fix", 1.6-J errata 5.1)
     │    ├── TypeConstraintViolationError      TypeConstraintViolation
     │    ├── GenericError                      GenericError
     │    │    └── UnknownCallErrorCodeError    a received CALLERROR whose code no version defines
     │    ├── MessageTypeNotSupportedError      MessageTypeNotSupported (2.x; 1.6: GenericError)
     │    └── RpcFrameworkError                 RpcFrameworkError  (2.x; 1.6: FormationViolation)
     ├── ConnectionClosed                       the WebSocket connection is closed: what reading
     │                                          or writing it raises, with the Close code and reason
     ├── trio_websocket.HandshakeError
     │    └── HandshakeError                    connect(): the opening handshake failed
     │         ├── ConnectionRejected           the server answered an HTTP error (401, 404, 503)
     │         │                                (also a trio_websocket.ConnectionRejected)
     │         ├── ConnectionTimeout            no connection within connect_timeout
     │         │                                (also a trio_websocket.ConnectionTimeout)
     │         └── NoSubprotocolError           the server accepted none of the versions offered
     └── RejectConnection                       raised by a server's on_connect hook: refuse the
                                                connection with an HTTP status before the upgrade
    ValueError
     └── ValidationError                        a message that has no schema to validate it
                                                (never sent: a mistake of the caller's code)

Two kinds of "closed" are told apart: :class:`ConnectionClosed` is the transport's (a read or a
write found the WebSocket closed; every connection a ChargePoint runs on raises it, adapted ones
too), :class:`ConnectionClosedError` the OCPP call's (``call()`` could not get its response).

Each OCPP error knows its code in every version: ``error.code_for("1.6")`` is the spelling sent
on a 1.6 connection. :func:`error_from_code` maps a received code, in either spelling, back to
its class. Errors raised by :func:`trio_ocpp.messages.unpack` also carry ``reply``: the
CALLERROR frame to answer the bad frame with, or ``None`` when the rules say it gets no answer.
The classes are defined where they are raised (the OCPP ones in ``trio_ocpp._core.errors``) and
stay importable there too.
"""

from ._client.client import NoSubprotocolError as NoSubprotocolError
from ._core.errors import CallTimeoutError as CallTimeoutError
from ._core.errors import ClusterUnavailableError as ClusterUnavailableError
from ._core.errors import ConnectionClosedError as ConnectionClosedError
from ._core.errors import FormationViolationError as FormationViolationError
from ._core.errors import FormatViolationError as FormatViolationError
from ._core.errors import GenericError as GenericError
from ._core.errors import InternalError as InternalError
from ._core.errors import MessageTypeNotSupportedError as MessageTypeNotSupportedError
from ._core.errors import NotConnectedError as NotConnectedError
from ._core.errors import NotImplementedError as NotImplementedError
from ._core.errors import NotSupportedError as NotSupportedError
from ._core.errors import OccurenceConstraintViolationError as OccurenceConstraintViolationError
from ._core.errors import OccurrenceConstraintViolationError as OccurrenceConstraintViolationError
from ._core.errors import OCPPError as OCPPError
from ._core.errors import PropertyConstraintViolationError as PropertyConstraintViolationError
from ._core.errors import ProtocolError as ProtocolError
from ._core.errors import RpcFrameworkError as RpcFrameworkError
from ._core.errors import SecurityError as SecurityError
from ._core.errors import TypeConstraintViolationError as TypeConstraintViolationError
from ._core.errors import UnknownCallErrorCodeError as UnknownCallErrorCodeError
from ._core.errors import ValidationError as ValidationError
from ._core.errors import error_from_code as error_from_code
from ._server.upgrade import RejectConnection as RejectConnection
from ._transport.connection import ConnectionClosed as ConnectionClosed
from ._transport.handshake import ConnectionRejected as ConnectionRejected
from ._transport.handshake import ConnectionTimeout as ConnectionTimeout
from ._transport.handshake import HandshakeError as HandshakeError

__all__ = [
    "CallTimeoutError",
    "ClusterUnavailableError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionRejected",
    "ConnectionTimeout",
    "FormatViolationError",
    "FormationViolationError",
    "GenericError",
    "HandshakeError",
    "InternalError",
    "MessageTypeNotSupportedError",
    "NoSubprotocolError",
    "NotConnectedError",
    "NotImplementedError",
    "NotSupportedError",
    "OCPPError",
    "OccurenceConstraintViolationError",
    "OccurrenceConstraintViolationError",
    "PropertyConstraintViolationError",
    "ProtocolError",
    "RejectConnection",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolationError",
    "UnknownCallErrorCodeError",
    "ValidationError",
    "error_from_code",
]

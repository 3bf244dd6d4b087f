"""The WebSocket close codes trio-ocpp sends and reads (RFC 6455 7.4.1; 1013 from the IANA
registry), named once for every layer."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ABNORMAL",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "INVALID_DATA",
    "NORMAL",
    "POLICY_VIOLATION",
    "PROTOCOL_ERROR",
    "REPLACED",
    "TOO_BIG",
    "TRY_AGAIN_LATER",
]

NORMAL: Final = 1000
#: A connection that a newer one of its identity replaced, on this server or another node: a
#: normal close (CONFORMANCE 39), the reason says which.
REPLACED: Final = NORMAL
GOING_AWAY: Final = 1001  # the server stops
PROTOCOL_ERROR: Final = 1002  # RFC 6455 broken, too many invalid frames, no OCPP subprotocol
ABNORMAL: Final = 1006  # never sent: the TCP connection ended without a closing handshake
INVALID_DATA: Final = 1007  # a text message that is not UTF-8
POLICY_VIOLATION: Final = 1008  # a message not finished in time
TOO_BIG: Final = 1009  # a message over max_message_size, or the receive budget spent
INTERNAL_ERROR: Final = 1011  # the peer stopped reading or answering pings
TRY_AGAIN_LATER: Final = 1013  # closed to make room for another connection

"""HTTP Basic authentication for OCPP security profiles 1 and 2 (CONFORMANCE 31-32).

The username is the charge point identity. The password stays bytes throughout: an OCPP 1.6
AuthorizationKey is 20 raw bytes that need not be UTF-8, while a 2.x password is UTF-8 text.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable

__all__ = ["BasicAuthCheck", "basic_auth_header", "compare_secret", "parse_basic_auth"]

#: ``await check(identity, password)``: True accepts the charge point, False refuses it with
#: HTTP 401; raise :class:`~trio_ocpp.RejectConnection` (404) for an identity it does not know.
BasicAuthCheck = Callable[[str, bytes], Awaitable[bool]]


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def basic_auth_header(username: str, password: str | bytes) -> bytes:
    """The value of an ``Authorization`` header: ``Basic base64(username ":" password)``."""
    return b"Basic " + base64.b64encode(username.encode() + b":" + _as_bytes(password))


def parse_basic_auth(value: bytes) -> tuple[str, bytes] | None:
    """``(username, password)`` from an ``Authorization`` header value; None unless it is
    well-formed Basic credentials with a UTF-8 username."""
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
        # A username has no ':' (RFC 7617) but a raw password may: split on the first one.
        username, colon, password = decoded.partition(b":")
        return (username.decode(), password) if colon else None
    except (binascii.Error, UnicodeDecodeError):
        return None


def compare_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Compare two secrets in constant time (text is compared as its UTF-8 bytes)."""
    return secrets.compare_digest(_as_bytes(given), _as_bytes(expected))

"""What a server decides about an opening request before the upgrade, and what it tells the
application's ``on_connect`` hook: the identity in the path, the version from the offered
subprotocols, HTTP Basic credentials (slowed down by ``_throttle``), and the hook's refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import trio

from .._core.auth import BasicAuthCheck, compare_secret, parse_basic_auth
from .._core.logsafe import RepeatLimiter, escape
from .._core.throttle import AuthThrottle
from .._core.versions import SUBPROTOCOLS, OCPPVersion
from .._transport.tls import ClientCertificate

__all__ = [
    "ConnectionRequest",
    "RejectConnection",
    "authenticate",
    "choose_version",
    "password_table",
]

_BY_SUBPROTOCOL: dict[str, OCPPVersion] = {sub: v for v, sub in SUBPROTOCOLS.items()}
_UNAUTHORIZED = [("WWW-Authenticate", 'Basic realm="OCPP"')]


class RejectConnection(Exception):
    """Raise from an ``on_connect`` hook to refuse a connection before the upgrade."""

    def __init__(self, status_code: int = 404, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(status_code)
        self.status_code = status_code
        self.headers = tuple(headers)


@attrs.frozen
class ConnectionRequest:
    """What a server knows of a connection before accepting it: passed to ``on_connect``."""

    identity: str
    path: str
    #: The negotiated version; None when the client offered nothing the server speaks.
    ocpp_version: OCPPVersion | None
    offered_subprotocols: tuple[str, ...]
    #: Request headers, names lower-cased, values as sent (bytes: they may not be UTF-8).
    headers: Mapping[str, bytes]
    remote: str
    #: The verified TLS client certificate (security profile 3); None without one.
    client_certificate: ClientCertificate | None = None


def choose_version(offered: Iterable[str], speaks: Mapping[OCPPVersion, Any]) -> OCPPVersion | None:
    # The client's order decides (CONFORMANCE 5, project decision).
    for sub in offered:
        version = _BY_SUBPROTOCOL.get(sub)
        if version is not None and version in speaks:
            return version
    return None


def password_table(passwords: Mapping[str, str | bytes]) -> BasicAuthCheck:
    """A check over ``identity -> password``, read at each connection so that it may change."""

    async def check(identity: str, password: bytes) -> bool:
        expected = passwords.get(identity)
        if expected is None:
            raise RejectConnection(404)
        return compare_secret(password, expected)

    return check


async def authenticate(
    check: BasicAuthCheck,
    identity: str,
    authorization: bytes | None,
    throttle: AuthThrottle,
    address: str,
    warnings: RepeatLimiter,
) -> None:
    """HTTP Basic auth before the upgrade (CONFORMANCE 32): raise RejectConnection to refuse.

    Recent failures for the identity or from the address slow it down (``_throttle``).
    """
    await trio.sleep(throttle.attempt(identity, address, trio.current_time()))
    credentials = None if authorization is None else parse_basic_auth(authorization)
    try:
        if credentials is None:
            reason = "no Basic credentials"
        elif credentials[0] != identity:
            reason = f"Basic auth username {credentials[0]!r} is not the identity"
        elif not await check(identity, credentials[1]):
            reason = "wrong Basic auth password"
        else:
            throttle.succeeded(identity, trio.current_time())
            return
    except RejectConnection:  # an unknown identity (404)
        throttle.failed(address, trio.current_time())
        raise
    throttle.failed(address, trio.current_time())
    warnings.warning(
        trio.current_time(),
        "%s (%s): refused: %s",
        escape(identity),
        address,
        escape(reason),
        source=identity,
    )
    raise RejectConnection(401, _UNAUTHORIZED)

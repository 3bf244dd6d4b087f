"""What a server decides about an opening request before the upgrade (:class:`Gate`), and what
it tells the application's ``on_connect`` hook: the version from the offered subprotocols, the
identity in the path, the client certificate's binding, HTTP Basic credentials (slowed down by
the core's throttle), and the hook's refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from .._core import close_codes
from .._core.auth import BasicAuthCheck, compare_secret, parse_basic_auth
from .._core.identity import IdentityPolicy, check_identity, identity_from_path
from .._core.logsafe import RepeatLimiter, escape
from .._core.throttle import AuthThrottle
from .._core.versions import SUBPROTOCOLS, OCPPVersion
from .._transport.connection import WebSocketConnection
from .._transport.handshake import OpeningRequest
from .._transport.receive_budget import ReceiveBudget
from .._transport.tls import CertificateIdentity, ClientCertificate

__all__ = [
    "FORBIDDEN",
    "Accepted",
    "ConnectionRequest",
    "Gate",
    "RejectConnection",
    "authenticate",
    "choose_version",
    "password_table",
]

logger = logging.getLogger("trio_ocpp.server")

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
    delay = throttle.attempt(identity, address, trio.current_time())
    if delay:  # not a pass through the scheduler for each charge point of a storm
        await trio.sleep(delay)
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


#: What an accepted request becomes: identity, version, the open WebSocket and the certificate.
Accepted = tuple[str, OCPPVersion, WebSocketConnection, ClientCertificate | None]
#: A server's warning about what a peer can repeat: ``warn(source, message, *args)``.
Warn = Callable[..., None]
#: The HTTP status of a client certificate that does not name the identity: the certificate is
#: valid, so not 401 (whose challenge would ask for other credentials), but it is not this one's.
FORBIDDEN = 403


class Gate:
    """The checks of one server's opening requests, in order: the offered subprotocols and the
    version (CONFORMANCE 5-7), a valid WebSocket upgrade, the identity (CONFORMANCE 38), the
    client certificate's binding (profile 3), Basic auth (profiles 1-2, CONFORMANCE 32), and the
    application's ``on_connect``. A request that fails one is answered with its HTTP status and
    logged through the server's ``warn`` (escaped, rate-limited by source)."""

    def __init__(
        self,
        classes: Mapping[OCPPVersion, Any],
        default_version: OCPPVersion | None,
        *,
        identity_policy: IdentityPolicy,
        certificate_identity: CertificateIdentity | None,
        check_password: BasicAuthCheck | None,
        on_connect: Callable[[ConnectionRequest], Awaitable[None]] | None,
        warnings: RepeatLimiter,
        receive_budget: ReceiveBudget,
        warn: Warn,
        warn_address: Warn,
        refused: Callable[[str, str], None],
    ) -> None:
        self._classes = classes
        self._default_version = default_version
        self._identity_policy = identity_policy
        self._certificate_identity = certificate_identity
        self._check_password = check_password
        self._throttle = AuthThrottle()
        self._on_connect = on_connect
        self._warnings = warnings
        self._receive_budget = receive_budget
        self._warn = warn
        self._warn_address = warn_address
        self._refused = refused

    async def admit(
        self, handshake: OpeningRequest, remote: str, certificate: ClientCertificate | None
    ) -> Accepted | None:
        """Check ``handshake``: the connection to run (upgraded), or None (answered and done)."""
        try:
            offered = handshake.offered_subprotocols()
        except ValueError as exc:
            self._warn_address(remote, "%s: invalid Sec-WebSocket-Protocol: %s", escape(exc))
            self._refused(remote, "subprotocol")
            await handshake.reject(400)
            return None
        version = choose_version(offered, self._classes)
        if version is None and not offered:
            version = self._default_version
        answer = handshake.check(SUBPROTOCOLS[version] if version and offered else None)
        if answer.status_code != 101:
            self._warn_address(
                remote, "%s: not a valid WebSocket upgrade (HTTP %d)", answer.status_code
            )
            self._refused(remote, "upgrade")
            await handshake.reject(answer.status_code, answer=answer)
            return None
        identity = identity_from_path(handshake.path)
        refusal = check_identity(identity, version, self._identity_policy)
        if refusal is not None:
            self._warn_address(remote, "%s: %s %s", escape(identity), refusal.reason)
            self._refused(remote, "identity")
            await handshake.reject(refusal.status)
            return None
        headers = handshake.headers()
        stage = "auth"  # what a RejectConnection refuses: credentials, then the application
        try:
            self._bind_certificate(identity, remote, certificate)
            if self._check_password is not None:
                await authenticate(
                    self._check_password,
                    identity,
                    headers.get("authorization"),
                    self._throttle,
                    remote,
                    self._warnings,
                )
            if self._on_connect is not None:
                stage = "application"
                info = ConnectionRequest(
                    identity=identity,
                    path=handshake.path,
                    ocpp_version=version,
                    offered_subprotocols=offered,
                    headers=headers,
                    remote=remote,
                    client_certificate=certificate,
                )
                await self._on_connect(info)
        except RejectConnection as rejection:
            logger.info("%s: rejected with HTTP %d", escape(identity), rejection.status_code)
            self._refused(remote, stage)
            await handshake.reject(rejection.status_code, rejection.headers)
            return None
        ws = handshake.accept(answer, remote, self._receive_budget)
        if version is None:
            # CONFORMANCE 6: complete the handshake without a subprotocol, then close.
            self._warn(
                identity,
                "%s: no supported OCPP subprotocol in %s, closing",
                escape(identity),
                escape(offered),
            )
            self._refused(remote, "subprotocol")
            await ws.aclose(close_codes.PROTOCOL_ERROR, "no supported OCPP subprotocol")
            return None
        return identity, version, ws, certificate

    def _bind_certificate(
        self, identity: str, remote: str, certificate: ClientCertificate | None
    ) -> None:
        """Profile 3 with ``certificate_identity``: may this certificate connect as
        ``identity``? RejectConnection(403) if not."""
        rule = self._certificate_identity
        if rule is None or (certificate is not None and rule(identity, certificate)):
            return
        self._warn(
            identity,
            "%s (%s): refused: its client certificate, CN %s, is not bound to it",
            escape(identity),
            remote,
            "none" if certificate is None else escape(certificate.common_names),
        )
        raise RejectConnection(FORBIDDEN)

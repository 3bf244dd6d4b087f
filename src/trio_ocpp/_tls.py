"""TLS for OCPP security profiles 2 and 3 (CONFORMANCE 31, 33): contexts and client certificates.

Profile 2 is TLS with a server certificate plus HTTP Basic auth; profile 3 adds a client
certificate that the server requires and verifies, and whose subject names the charge point.
"""

from __future__ import annotations

import ssl
from os import PathLike
from typing import Any

import attrs
import trio

__all__ = [
    "ClientCertificate",
    "check_tls_version",
    "client_ssl_context",
    "server_ssl_context",
]

StrPath = str | PathLike[str]


@attrs.frozen
class ClientCertificate:
    """The subject of the verified client certificate of a connection (security profile 3)."""

    #: CN: the charge point's serial number or identity, by the OCPP certificate profile.
    common_name: str | None
    #: O: the charging station operator.
    organization: str | None
    #: Every subject attribute as ``(name, value)``, in certificate order.
    subject: tuple[tuple[str, str], ...]

    @classmethod
    def from_peercert(cls, cert: dict[str, Any]) -> ClientCertificate:
        """From what :meth:`ssl.SSLSocket.getpeercert` returns."""
        subject = tuple((name, value) for rdn in cert.get("subject", ()) for name, value in rdn)
        attributes = dict(subject)
        return cls(
            common_name=attributes.get("commonName"),
            organization=attributes.get("organizationName"),
            subject=subject,
        )


def check_tls_version(context: ssl.SSLContext) -> None:
    """Refuse a context that would speak TLS older than 1.2 (CONFORMANCE 33)."""
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:
        raise ValueError(
            "OCPP requires TLS 1.2 or newer: set "
            "ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2"
        )


def server_ssl_context(
    certfile: StrPath,
    keyfile: StrPath | None = None,
    *,
    cafile: StrPath | None = None,
    password: str | None = None,
) -> ssl.SSLContext:
    """A central system's context: TLS 1.2 or newer with its certificate chain (profile 2).

    With ``cafile``, every charge point must present a client certificate issued by those CAs
    (profile 3); its subject reaches ``ConnectionRequest.client_certificate`` and
    ``ChargePoint.client_certificate``.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile, password)
    if cafile is not None:
        context.load_verify_locations(cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(
    *,
    cafile: StrPath | None = None,
    certfile: StrPath | None = None,
    keyfile: StrPath | None = None,
    password: str | None = None,
) -> ssl.SSLContext:
    """A charge point's context: TLS 1.2 or newer, the server verified against ``cafile`` (the
    system's CAs when None), and with ``certfile`` a client certificate (profile 3)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile, password)
    return context


def peer_certificate(stream: trio.SSLStream[trio.SocketStream]) -> ClientCertificate | None:
    """The verified client certificate of a server's TLS stream (after its handshake), or None."""
    # None without a client certificate; {} for one that was not verified (CERT_NONE).
    cert = stream.getpeercert()
    return ClientCertificate.from_peercert(cert) if cert else None

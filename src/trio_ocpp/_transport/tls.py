"""TLS for OCPP security profiles 2 and 3 (CONFORMANCE 31, 33): contexts and client certificates.

Profile 2 is TLS with a server certificate plus HTTP Basic auth; profile 3 adds a client
certificate that the server requires and verifies, and whose subject names the charge point.

Which station a certificate belongs to: OCPP 2.0.1 and 2.1, Part 2, A00 (security profile 3,
A00.FR.405) has the CSMS check that the CN (commonName) of the certificate's subject holds the
charging station's unique serial number (and B01.FR.12 closes a station whose BootNotification
gives another serial number). Part 2 is not among the spec files here and Part 4 says nothing of
it: this follows the requirement as other OCPP implementations quote it. A charge point's
identity is usually that serial number, hence :func:`common_name_is_identity`, the rule of the
example central system; a fleet that names its stations otherwise gives the server a rule of its
own (``Server(certificate_identity=...)``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from os import PathLike
from typing import Any

import attrs
import trio

__all__ = [
    "CertificateIdentity",
    "ClientCertificate",
    "check_tls_version",
    "client_ssl_context",
    "common_name_is_identity",
    "server_ssl_context",
]

StrPath = str | PathLike[str]


@attrs.frozen
class ClientCertificate:
    """The verified client certificate of a connection (security profile 3).

    A subject may hold an attribute more than once (``CN=CP_A, CN=VICTIM``), and software
    disagrees on which one counts: :attr:`common_name` and :attr:`organization` refuse to choose
    and are None then; :attr:`common_names` and :attr:`subject` have them all.
    """

    #: Every subject attribute as ``(name, value)``, in certificate order.
    subject: tuple[tuple[str, str], ...]
    #: The subject alternative names as ``(type, value)``: ``("DNS", "cp1.example.com")``,
    #: ``("IP Address", "192.0.2.1")``, ``("URI", ...)``, in certificate order.
    subject_alt_names: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_peercert(cls, cert: dict[str, Any]) -> ClientCertificate:
        """From what :meth:`ssl.SSLSocket.getpeercert` returns."""
        return cls(
            subject=tuple((name, value) for rdn in cert.get("subject", ()) for name, value in rdn),
            subject_alt_names=tuple(cert.get("subjectAltName", ())),
        )

    @property
    def common_names(self) -> tuple[str, ...]:
        """Every CN of the subject, in certificate order."""
        return self._values("commonName")

    @property
    def common_name(self) -> str | None:
        """The CN (the charge point's serial number or identity, by the OCPP certificate
        profile): None when the subject has none, or more than one."""
        return _single(self.common_names)

    @property
    def organization(self) -> str | None:
        """The O (the charging station operator): None when there is none, or more than one."""
        return _single(self._values("organizationName"))

    def _values(self, attribute: str) -> tuple[str, ...]:
        return tuple(value for name, value in self.subject if name == attribute)


def _single(values: tuple[str, ...]) -> str | None:
    return values[0] if len(values) == 1 else None


#: A rule binding an identity to a certificate: ``rule(identity, certificate)`` is True when
#: ``certificate`` may connect as ``identity`` (``Server(certificate_identity=...)``).
CertificateIdentity = Callable[[str, ClientCertificate], bool]


def common_name_is_identity(identity: str, certificate: ClientCertificate) -> bool:
    """The certificate's subject has exactly one CN, and it is ``identity`` (module docstring)."""
    return certificate.common_name == identity


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

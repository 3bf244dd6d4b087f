"""Profile 3: a client certificate connects as its own station only (issue 23, item 4).

The red team's finding: ``common_name`` took the last CN of a subject with several, so
``CN=CP_A, CN=VICTIM`` passed the README's ``common_name == identity`` check as VICTIM, and the
example central system with ``--cafile`` let CP_A's certificate connect as ``/VICTIM``, replace the
real VICTIM and receive its commands. Certificates here are built with ``cryptography`` and signed
by a trustme CA, and every connection goes through real TLS on loopback.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from helpers.interop.peers import open_process
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp import ClientCertificate, ConnectionRequest, RejectConnection, Server, testing, v16
from trio_ocpp.__main__ import parse_args
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
CN, ORG = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME
FORGED = "VICTIM\n2026 CRITICAL forged line"


class CentralSystem(v16.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=TIME)


def issue(
    ca: trustme.CA, subject: Sequence[tuple[x509.ObjectIdentifier, str]], dns: Sequence[str] = ()
) -> bytes:
    """A client certificate with exactly this subject (trustme makes one CN at most), signed by
    ``ca``: its key and certificate, PEM."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value) for oid, value in subject]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if dns:
        names = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns])
        builder = builder.add_extension(names, critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)


@attrs.frozen
class PKI:
    ca: Path
    server: Path
    victim: Path  # CN=VICTIM, O=ACME CSO: the real station
    other: Path  # CN=CP_A: another station of the same CSO
    two_cns: Path  # CN=CP_A, CN=VICTIM: CP_A's, with the victim's name added
    forged: Path  # a CN with a line break in it
    serial: Path  # CN=SN-0001, and a DNS name: a fleet that names stations otherwise


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA(organization_name="ACME CSO Root")
    blobs = {
        "ca": ca.cert_pem.bytes(),
        "server": ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.bytes(),
        "victim": issue(ca, [(CN, "VICTIM"), (ORG, "ACME CSO")]),
        "other": issue(ca, [(CN, "CP_A"), (ORG, "ACME CSO")]),
        "two_cns": issue(ca, [(CN, "CP_A"), (CN, "VICTIM"), (ORG, "ACME CSO")]),
        "forged": issue(ca, [(CN, FORGED)]),
        "serial": issue(ca, [(CN, "SN-0001")], dns=["cp-7.cso.example"]),
    }
    paths = {}
    for name, blob in blobs.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(blob)
    return PKI(**paths)


def serving(pki: PKI, **options: Any) -> AbstractAsyncContextManager[Server]:
    context = trio_ocpp.server_ssl_context(pki.server, cafile=pki.ca)
    return testing.serving(CentralSystem, ssl_context=context, **options)


def client(pki: PKI, certfile: Path) -> ssl.SSLContext:
    return trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=certfile)


def wss(server: Server) -> str:
    return f"wss://127.0.0.1:{server.port}/ocpp"


@asynccontextmanager
async def connected(url: str, identity: str, context: ssl.SSLContext) -> AsyncIterator[Any]:
    """A charge point connected as ``identity``, for at most 5 s."""
    with trio.fail_after(5):
        async with trio_ocpp.connect(
            url, v16.ChargePoint, identity=identity, ssl_context=context
        ) as cp:
            yield cp


async def refused(url: str, identity: str, context: ssl.SSLContext) -> int:
    """Connect as ``identity``: the HTTP status of the refusal."""
    with trio.fail_after(5), pytest.raises(trio_ocpp.ConnectionRejected) as info:
        async with trio_ocpp.connect(url, v16.ChargePoint, identity=identity, ssl_context=context):
            pass  # pragma: no cover
    return info.value.status_code


def test_a_subject_with_two_cns_has_no_common_name() -> None:
    peercert = {
        "subject": (
            (("commonName", "CP_A"),),
            (("commonName", "VICTIM"),),
            (("organizationName", "ACME CSO"),),
        ),
        "subjectAltName": (("DNS", "cp-a.cso.example"), ("URI", "urn:cp:A")),
    }
    certificate = ClientCertificate.from_peercert(peercert)
    assert certificate.common_name is None  # not VICTIM: which CN counts is not guessed
    assert certificate.common_names == ("CP_A", "VICTIM")
    assert certificate.organization == "ACME CSO"
    assert certificate.subject_alt_names == (("DNS", "cp-a.cso.example"), ("URI", "urn:cp:A"))
    assert not trio_ocpp.common_name_is_identity("VICTIM", certificate)
    assert not trio_ocpp.common_name_is_identity("CP_A", certificate)
    single = ClientCertificate.from_peercert({"subject": ((("commonName", "CP_A"),),)})
    assert single.common_name == "CP_A" and single.organization is None
    assert trio_ocpp.common_name_is_identity("CP_A", single)


async def test_the_readme_check_refuses_a_certificate_with_two_cns(pki: PKI) -> None:
    seen: list[ClientCertificate | None] = []

    async def on_connect(request: ConnectionRequest) -> None:  # as the README showed it
        seen.append(request.client_certificate)
        assert request.client_certificate is not None
        if request.client_certificate.common_name != request.identity:
            raise RejectConnection(403)

    async with serving(pki, on_connect=on_connect) as server:
        assert await refused(wss(server), "VICTIM", client(pki, pki.two_cns)) == 403
        assert not server.charge_points
    assert seen[0] is not None and seen[0].common_names == ("CP_A", "VICTIM")


async def test_the_binding_refuses_another_stations_certificate(
    pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trio_ocpp")
    binding = trio_ocpp.common_name_is_identity
    async with serving(pki, certificate_identity=binding) as server:
        async with connected(wss(server), "VICTIM", client(pki, pki.victim)) as victim:
            served = server.get("VICTIM")
            assert served is not None and served.client_certificate is not None
            assert served.client_certificate.common_name == "VICTIM"
            for certfile, identity in [
                (pki.other, "VICTIM"),  # another station's certificate
                (pki.two_cns, "VICTIM"),  # its last CN
                (pki.two_cns, "CP_A"),  # or its first: two CNs name no one
                (pki.forged, "VICTIM"),
            ]:
                assert await refused(wss(server), identity, client(pki, certfile)) == 403
            # VICTIM's connection was neither replaced nor closed: it is served still.
            assert server.get("VICTIM") is served
            assert (await victim.call(v16.call.Heartbeat())).current_time == TIME
        # The station whose certificate it is connects as itself.
        async with connected(wss(server), "CP_A", client(pki, pki.other)):
            assert server.get("CP_A") is not None
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 4, refusals
    assert refusals[0].startswith("VICTIM (127.0.0.1:")
    assert refusals[0].endswith("refused: its client certificate, CN ('CP_A',), is not bound to it")
    assert "CN ('CP_A', 'VICTIM')" in refusals[1]
    assert refusals[2].startswith("CP_A (127.0.0.1:")
    assert "CN ('VICTIM\\n2026 CRITICAL forged line',)" in refusals[3]
    assert all(message.isprintable() for message in refusals)
    assert "replaces the previous one" not in caplog.text


async def test_a_rule_of_the_users_own_may_bind_by_serial_number_or_name(pki: PKI) -> None:
    serials = {"CP_7": "SN-0001"}

    def by_serial_number(identity: str, certificate: ClientCertificate) -> bool:
        return certificate.common_name == serials.get(identity)

    def by_dns_name(identity: str, certificate: ClientCertificate) -> bool:
        name = ("DNS", f"{identity.lower().replace('_', '-')}.cso.example")
        return name in certificate.subject_alt_names

    for rule in (by_serial_number, by_dns_name):
        async with serving(pki, certificate_identity=rule) as server:
            async with connected(wss(server), "CP_7", client(pki, pki.serial)) as cp:
                await cp.call(v16.call.Heartbeat())
            assert await refused(wss(server), "CP_8", client(pki, pki.serial)) == 403
            assert await refused(wss(server), "CP_7", client(pki, pki.victim)) == 403


def test_the_binding_needs_client_certificates(pki: PKI) -> None:
    binding = trio_ocpp.common_name_is_identity
    with pytest.raises(ValueError, match="client certificates"):
        Server(CentralSystem, certificate_identity=binding)
    with pytest.raises(ValueError, match="client certificates"):
        Server(
            CentralSystem,
            ssl_context=trio_ocpp.server_ssl_context(pki.server),  # profile 2: none asked for
            certificate_identity=binding,
        )


def test_the_example_binds_with_cafile_unless_told_not_to(pki: PKI) -> None:
    tls = ["--certfile", str(pki.server), "--cafile", str(pki.ca)]
    assert not parse_args(tls).unbound_certificates
    assert parse_args([*tls, "--unbound-certificates"]).unbound_certificates
    with pytest.raises(SystemExit):
        parse_args(["--unbound-certificates"])


async def test_the_example_server_with_cafile_keeps_a_station_to_its_certificate(
    pki: PKI,
) -> None:
    port = free_port()
    args = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--certfile", str(pki.server), "--cafile", str(pki.ca)]
    endpoint = f"wss://127.0.0.1:{port}"
    with trio.fail_after(15):
        async with open_process(args) as server:
            await wait_listening(port)
            async with connected(endpoint, "VICTIM", client(pki, pki.victim)) as victim:
                # The finding: CP_A's certificate as /VICTIM replaced VICTIM (closed 1000).
                assert await refused(endpoint, "VICTIM", client(pki, pki.other)) == 403
                assert await refused(endpoint, "VICTIM", client(pki, pki.two_cns)) == 403
                await victim.call(v16.call.Heartbeat())  # still VICTIM's connection
            await server.wait_for(
                lambda: server.stderr.text.count("is not bound to it") == 2,
                "two refusals logged",
                output=server.stderr,
            )
            assert "replaces the previous one" not in server.stderr.text, server.report()

"""Security profiles over real sockets (CONFORMANCE 31-33): HTTP Basic auth before the upgrade,
TLS 1.2+ with throwaway certificates (trustme), and client certificates (profile 3)."""

from __future__ import annotations

import base64
import datetime
import functools
import logging
import socket
import ssl
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio_websocket
import trustme

import trio_ocpp
from trio_ocpp import ConnectionRequest, RejectConnection, Server, exceptions, testing, v16
from trio_ocpp.__main__ import parse_args
from trio_ocpp.examples import central_system
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"
#: A 1.6 AuthorizationKey is 20 raw bytes: not UTF-8, and with a ':' inside.
RAW_KEY = bytes([0xFF, 0x00, 0x3A, 0x80]) + bytes(range(0xC0, 0xD0))


class CentralSystem(v16.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=TIME)


class ChargePoint(v16.ChargePoint):
    pass


@attrs.frozen
class PKI:
    """Files of a throwaway public key infrastructure."""

    ca: Path  # the CSO's CA: server and client certificates
    other_ca: Path  # a CA that issued nothing here
    server: Path  # key and chain for 127.0.0.1
    client: Path  # key and chain, CN=CP_1, O=ACME CSO
    expired_client: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA(organization_name="ACME CSO Root")
    now = datetime.datetime.now(datetime.UTC)
    blobs = {
        "ca": ca.cert_pem,
        "other_ca": trustme.CA().cert_pem,
        "server": ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem,
        "client": ca.issue_cert(
            common_name="CP_1", organization_name="ACME CSO"
        ).private_key_and_cert_chain_pem,
        "expired_client": ca.issue_cert(
            common_name="CP_1",
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1),
        ).private_key_and_cert_chain_pem,
    }
    paths = {}
    for name, blob in blobs.items():
        paths[name] = folder / f"{name}.pem"
        blob.write_to_path(str(paths[name]))
    return PKI(**paths)


serving = functools.partial(testing.serving, CentralSystem)


def url(server: Server) -> str:
    return f"{'wss' if server._ssl_context else 'ws'}://127.0.0.1:{server.port}/ocpp"


async def heartbeat(server: Server, **options: Any) -> None:
    """Connect as CP_1, make one call, and check that the server has the charge point."""
    with trio.fail_after(5):
        async with trio_ocpp.connect(url(server), ChargePoint, identity="CP_1", **options) as cp:
            result = await cp.call(v16.call.Heartbeat())
            assert result.current_time == TIME
            assert server.get("CP_1") is not None


async def rejected(server: Server, **options: Any) -> trio_websocket.ConnectionRejected:
    options.setdefault("identity", "CP_1")
    with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionRejected) as info:
        async with trio_ocpp.connect(url(server), ChargePoint, **options):
            pass  # pragma: no cover
    assert not server.charge_points
    return info.value


def header(rejection: trio_websocket.ConnectionRejected, name: bytes) -> bytes | None:
    return dict(rejection.headers or ()).get(name)


# -- Basic auth (profile 1) ------------------------------------------------------------------------

PASSWORDS = {"CP_1": "correct horse battery staple", "CP 2": RAW_KEY}


async def test_basic_auth_accepts_the_right_password() -> None:
    async with serving(basic_auth=PASSWORDS) as server:
        await heartbeat(server, basic_auth="correct horse battery staple")


async def test_basic_auth_accepts_a_raw_non_utf8_key_with_a_colon_inside() -> None:
    async with serving(basic_auth=PASSWORDS) as server:
        with trio.fail_after(5):
            async with trio_ocpp.connect(
                url(server), ChargePoint, identity="CP 2", basic_auth=RAW_KEY
            ):
                assert server.get("CP 2") is not None  # the username is the decoded identity


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="no Authorization header"),
        pytest.param({"basic_auth": "wrong"}, id="wrong password"),
        pytest.param({"basic_auth": RAW_KEY[:-1]}, id="raw key one byte short"),
        pytest.param(
            {
                "extra_headers": [
                    (
                        "Authorization",
                        "Basic " + base64.b64encode(b"CP 2:correct horse battery staple").decode(),
                    )
                ]
            },
            id="username is not the identity",
        ),
        pytest.param({"extra_headers": [("Authorization", "Bearer abc")]}, id="not Basic"),
        pytest.param({"extra_headers": [("Authorization", "Basic !!!")]}, id="not base64"),
    ],
)
async def test_basic_auth_refuses_with_401_and_a_challenge(options: dict[str, Any]) -> None:
    hooked = []

    async def on_connect(request: ConnectionRequest) -> None:
        hooked.append(request)  # pragma: no cover

    async with serving(basic_auth=PASSWORDS, on_connect=on_connect) as server:
        rejection = await rejected(server, **options)
    assert rejection.status_code == 401
    assert header(rejection, b"www-authenticate") == b'Basic realm="OCPP"'
    assert not hooked  # decided before the user's hook


def test_an_identity_with_a_colon_cannot_use_basic_auth() -> None:
    with pytest.raises(ValueError, match="cannot use Basic auth"):
        trio_ocpp.Client("ws://127.0.0.1/ocpp", ChargePoint, identity="CP:1", basic_auth="pw")


async def test_basic_auth_answers_404_for_an_unknown_identity() -> None:
    async with serving(basic_auth=PASSWORDS) as server:
        rejection = await rejected(server, identity="CP_9", basic_auth="whatever")
    assert rejection.status_code == 404


async def test_basic_auth_check_gets_bytes_and_may_change_its_mind() -> None:
    seen: list[tuple[str, bytes]] = []
    allowed = {b"s3cret"}

    async def check(identity: str, password: bytes) -> bool:
        seen.append((identity, password))
        if identity != "CP_1":
            raise RejectConnection(404)
        return password in allowed

    async with serving(basic_auth=check) as server:
        await heartbeat(server, basic_auth="s3cret")
        allowed.clear()
        assert (await rejected(server, basic_auth="s3cret")).status_code == 401
        assert (await rejected(server, identity="CP_3", basic_auth="x")).status_code == 404
    assert seen == [("CP_1", b"s3cret"), ("CP_1", b"s3cret"), ("CP_3", b"x")]


async def test_a_password_table_is_read_at_each_connection() -> None:
    passwords = dict(PASSWORDS)
    async with serving(basic_auth=passwords) as server:
        assert (await rejected(server, identity="CP_3", basic_auth="new")).status_code == 404
        passwords["CP_3"] = "new"
        async with trio_ocpp.connect(url(server), ChargePoint, identity="CP_3", basic_auth="new"):
            pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Basic " + base64.b64encode(b"CP_1:pass:word"), ("CP_1", b"pass:word")),
        (b"basic   " + base64.b64encode(b"CP_1:"), ("CP_1", b"")),
        (b"Basic " + base64.b64encode(b"CP_1:" + RAW_KEY), ("CP_1", RAW_KEY)),
        (b"Basic " + base64.b64encode(b"no colon"), None),
        (b"Basic " + base64.b64encode(b"\xff:pw"), None),  # the username must be UTF-8
        (b"Basic abc", None),  # bad padding
        (b"Digest abc", None),
        (b"", None),
    ],
)
def test_parse_basic_auth(value: bytes, expected: tuple[str, bytes] | None) -> None:
    assert trio_ocpp.parse_basic_auth(value) == expected


def test_basic_auth_header_round_trips_text_and_raw_keys() -> None:
    for password in ("pässword", RAW_KEY):
        value = trio_ocpp.basic_auth_header("CP_1", password)
        secret = password.encode() if isinstance(password, str) else password
        assert trio_ocpp.parse_basic_auth(value) == ("CP_1", secret)


def test_compare_secret() -> None:
    assert trio_ocpp.compare_secret(b"abc", "abc")
    assert not trio_ocpp.compare_secret(b"abc", b"abd")
    assert not trio_ocpp.compare_secret(RAW_KEY, RAW_KEY[:-1])


# -- TLS (profile 2: TLS + Basic auth) -------------------------------------------------------------


async def test_profile_2_tls_and_basic_auth(pki: PKI) -> None:
    server_context = trio_ocpp.server_ssl_context(pki.server)
    async with serving(ssl_context=server_context, basic_auth=PASSWORDS) as server:
        client_context = trio_ocpp.client_ssl_context(cafile=pki.ca)
        await heartbeat(
            server, ssl_context=client_context, basic_auth="correct horse battery staple"
        )
        rejection = await rejected(server, ssl_context=client_context, basic_auth="wrong")
        assert rejection.status_code == 401


async def test_a_client_refuses_a_server_from_another_ca_at_once(pki: PKI) -> None:
    async with serving(ssl_context=trio_ocpp.server_ssl_context(pki.server)) as server:
        context = trio_ocpp.client_ssl_context(cafile=pki.other_ca)
        with trio.fail_after(5), pytest.raises(trio_websocket.HandshakeError) as info:
            async with trio_ocpp.connect(url(server), ChargePoint, ssl_context=context):
                pass  # pragma: no cover
        assert isinstance(info.value.__cause__.__cause__, ssl.SSLCertVerificationError)
        await heartbeat(server, ssl_context=trio_ocpp.client_ssl_context(cafile=pki.ca))


async def test_tls_older_than_1_2_is_refused(pki: PKI) -> None:
    server_context = trio_ocpp.server_ssl_context(pki.server)
    assert server_context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert trio_ocpp.client_ssl_context().minimum_version == ssl.TLSVersion.TLSv1_2
    weak = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    weak.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        Server(CentralSystem, ssl_context=weak)
    weak_client = trio_ocpp.client_ssl_context(cafile=pki.ca)
    weak_client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        trio_ocpp.Client(
            "wss://127.0.0.1/ocpp", ChargePoint, identity="CP_1", ssl_context=weak_client
        )
    # A client that can only speak TLS 1.1 gets no connection.
    old = trio_ocpp.client_ssl_context(cafile=pki.ca)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.warns(DeprecationWarning):
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    async with serving(ssl_context=server_context) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        tls = trio.SSLStream(stream, old, server_hostname="127.0.0.1")
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
            await tls.do_handshake()
        await trio.aclose_forcefully(tls)


# -- client certificates (profile 3) ---------------------------------------------------------------


async def test_profile_3_exposes_the_client_certificate(pki: PKI) -> None:
    requests: list[ConnectionRequest] = []

    async def on_connect(request: ConnectionRequest) -> None:
        requests.append(request)

    context = trio_ocpp.server_ssl_context(pki.server, cafile=pki.ca)
    async with serving(ssl_context=context, on_connect=on_connect) as server:
        client_context = trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=pki.client)
        with trio.fail_after(5):
            async with trio_ocpp.connect(
                url(server), ChargePoint, identity="CP_1", ssl_context=client_context
            ) as cp:
                await cp.call(v16.call.Heartbeat())
                certificate = server.charge_points["CP_1"].client_certificate
    assert certificate is not None
    assert (certificate.common_name, certificate.organization) == ("CP_1", "ACME CSO")
    assert ("commonName", "CP_1") in certificate.subject
    assert requests[0].client_certificate == certificate


async def test_profile_2_has_no_client_certificate(pki: PKI) -> None:
    async with serving(ssl_context=trio_ocpp.server_ssl_context(pki.server)) as server:
        context = trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=pki.client)
        async with trio_ocpp.connect(
            url(server), ChargePoint, identity="CP_1", ssl_context=context
        ):
            assert server.charge_points["CP_1"].client_certificate is None


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        ("none", "peer did not return a certificate"),
        ("expired", "certificate has expired"),
        ("unsigned", "unable to get local issuer certificate"),
    ],
)
async def test_profile_3_refuses_a_missing_or_invalid_client_certificate_at_once(
    pki: PKI, tmp_path: Path, certificate: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    certfile = {"none": None, "expired": pki.expired_client, "unsigned": tmp_path / "self.pem"}
    if certificate == "unsigned":
        trustme.CA().issue_cert(common_name="CP_1").private_key_and_cert_chain_pem.write_to_path(
            str(certfile["unsigned"])
        )
    context = trio_ocpp.server_ssl_context(pki.server, cafile=pki.ca)
    async with serving(ssl_context=context) as server:
        client_context = trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=certfile[certificate])
        with (
            caplog.at_level(logging.WARNING, "trio_ocpp.server"),
            trio.fail_after(5),
            pytest.raises(trio_websocket.HandshakeError),
        ):
            async with trio_ocpp.connect(
                url(server), ChargePoint, identity="CP_1", ssl_context=client_context
            ):
                pass  # pragma: no cover
        assert "TLS handshake failed" in caplog.text
        assert reason in caplog.text
        assert not server.charge_points
        # The server goes on serving charge points with valid certificates.
        good = trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=pki.client)
        await heartbeat(server, ssl_context=good)


# -- the example central system: python -m trio_ocpp --basic-auth --certfile --cafile ------------


def test_example_reads_passwords_and_raw_keys(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    path.write_text(f"# identity:password\n\nCP_1:pass:word\nCP 2:hex:{RAW_KEY.hex()}\n")
    assert central_system.read_passwords(path) == {"CP_1": "pass:word", "CP 2": RAW_KEY}
    path.write_text("no password\n")
    with pytest.raises(ValueError, match=r"passwords:1: expected identity:password"):
        central_system.read_passwords(path)


def test_example_security_flags(pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--basic-auth", "pw", "--certfile", str(pki.server), "--cafile", "ca"])
    assert (args.basic_auth, args.certfile, args.keyfile, args.cafile) == (
        "pw",
        str(pki.server),
        None,
        "ca",
    )
    with pytest.raises(SystemExit):
        parse_args(["--cafile", str(pki.ca)])
    assert "--keyfile and --cafile need --certfile" in capsys.readouterr().err


async def test_example_serves_profile_3_with_basic_auth_and_boot_first(
    pki: PKI, tmp_path: Path
) -> None:
    (tmp_path / "passwords").write_text(f"CP_1:hex:{RAW_KEY.hex()}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve = functools.partial(
        central_system.main,
        "127.0.0.1",
        port,
        ("1.6",),
        basic_auth=central_system.read_passwords(tmp_path / "passwords"),
        ssl_context=trio_ocpp.server_ssl_context(pki.server, cafile=pki.ca),
        boot_first=True,
    )
    options: dict[str, Any] = {
        "identity": "CP_1",
        "basic_auth": RAW_KEY,
        "ssl_context": trio_ocpp.client_ssl_context(cafile=pki.ca, certfile=pki.client),
    }
    endpoint = f"wss://127.0.0.1:{port}"
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            while True:
                try:
                    async with trio_ocpp.connect(endpoint, ChargePoint, **options) as cp:
                        break
                except trio_websocket.HandshakeError:
                    await trio.sleep(0.02)  # not listening yet
            async with trio_ocpp.connect(endpoint, ChargePoint, **options) as cp:
                with pytest.raises(exceptions.SecurityError):
                    await cp.call(v16.call.Heartbeat())
                boot = v16.call.BootNotification(charge_point_model="M", charge_point_vendor="V")
                assert (await cp.call(boot)).status == "Accepted"
                await cp.call(v16.call.Heartbeat())
            async with trio_ocpp.connect(endpoint, ChargePoint, **options) as cp:
                await cp.call(v16.call.Heartbeat())  # booted before: no new boot needed
            with pytest.raises(trio_websocket.ConnectionRejected):
                async with trio_ocpp.connect(
                    endpoint, ChargePoint, **{**options, "basic_auth": "x"}
                ):
                    pass  # pragma: no cover
            nursery.cancel_scope.cancel()

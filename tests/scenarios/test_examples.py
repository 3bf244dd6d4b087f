"""The examples against each other: the example charge point and the example central system.

In-process for each version (both mains in one nursery, a short heartbeat interval), the
central system's calls to the example charge point, and once as the command lines a user types.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme
from helpers.interop.peers import open_process
from helpers.processes import free_port, wait_listening

import trio_ocpp
from trio_ocpp import v16, v21, v201
from trio_ocpp.examples import central_system
from trio_ocpp.examples import charge_point as example
from trio_ocpp.routing import after

VERSIONS = ["1.6", "2.0.1", "2.1"]
V2X = {"2.0.1": v201, "2.1": v21}


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_and_heartbeats(version: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trio_ocpp")
    port = free_port()
    with trio.fail_after(8):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(central_system.main, "127.0.0.1", port)
            await wait_listening(port)
            sent = await example.main(
                f"ws://127.0.0.1:{port}", "CP_1", version, heartbeats=2, heartbeat_interval=0.05
            )
            nursery.cancel_scope.cancel()
    assert sent == 2
    frames = [r.getMessage() for r in caplog.records if r.name == "trio_ocpp.charge_point"]
    # Each frame is logged twice, by the client and by the server; one line each is enough here.
    assert any('send [2,"' in f and '"BootNotification"' in f for f in frames), frames
    assert any('"interval":10' in f and '"status":"Accepted"' in f for f in frames), frames
    assert sum("receive message [2," in f and '"Heartbeat"' in f for f in frames) == 2, frames


# -- the central system's calls to the example charge point ---------------------------------------


class Recording:
    """Records the charge point's CALLs after the example central system answered them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.booted = trio.Event()
        self.transactions: list[dict[str, Any]] = []
        self.transaction_seen = trio.Event()

    @after("BootNotification")
    def booted_after(self, **kwargs: Any) -> None:
        self.booted.set()

    @after("StartTransaction")
    @after("TransactionEvent")
    def transaction_after(self, **kwargs: Any) -> None:
        self.transactions.append(kwargs)
        self.transaction_seen.set()


class Recording16(Recording, central_system.CentralSystem16):
    pass


class Recording201(Recording, central_system.CentralSystem201):
    pass


class Recording21(Recording, central_system.CentralSystem21):
    pass


@asynccontextmanager
async def example_connected(version: str) -> AsyncIterator[Any]:
    """The example charge point, booted, connected to a recording central system: its side."""
    server = trio_ocpp.Server([Recording16, Recording201, Recording21])
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}"
        async with trio.open_nursery() as client:
            client.start_soon(example.main, url, "CP_X", version)
            while (cp := server.get("CP_X")) is None:
                await trio.sleep(0.01)
            assert isinstance(cp, Recording)
            await cp.booted.wait()
            yield cp
            # The client goes first: a server stopped first would wait for its close reply.
            client.cancel_scope.cancel()
        nursery.cancel_scope.cancel()


async def test_example_answers_the_central_system_16() -> None:
    with trio.fail_after(8):
        async with example_connected("1.6") as cp:
            config = await cp.call(v16.call.GetConfiguration())
            assert config.configuration_key == [
                {"key": "HeartbeatInterval", "readonly": False, "value": "10"},  # from the boot
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
            ]
            assert config.unknown_key is None

            changed = await cp.call(
                v16.call.ChangeConfiguration(key="MeterValueSampleInterval", value="30")
            )
            assert changed.status == "Accepted"
            unknown = await cp.call(v16.call.ChangeConfiguration(key="Nope", value="1"))
            assert unknown.status == "NotSupported"
            bad = await cp.call(v16.call.ChangeConfiguration(key="HeartbeatInterval", value="x"))
            assert bad.status == "Rejected"
            config = await cp.call(
                v16.call.GetConfiguration(key=["MeterValueSampleInterval", "Nope"])
            )
            assert config.configuration_key == [
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "30"}
            ]
            assert config.unknown_key == ["Nope"]

            started = await cp.call(v16.call.RemoteStartTransaction(id_tag="TAG", connector_id=2))
            assert started.status == "Accepted"
            await cp.transaction_seen.wait()  # the charge point's @after starts it
            (transaction,) = cp.transactions
            assert transaction["id_tag"] == "TAG" and transaction["connector_id"] == 2

            reset = await cp.call(v16.call.Reset(type="Hard"))
            assert reset.status == "Accepted"


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_example_answers_the_central_system_2x(version: str) -> None:
    calls = V2X[version].call
    with trio.fail_after(8):
        async with example_connected(version) as cp:
            variables = await cp.call(
                calls.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        },
                        {"component": {"name": "Nope"}, "variable": {"name": "Nope"}},
                    ]
                )
            )
            known, unknown = variables.get_variable_result
            assert known["attribute_status"] == "Accepted"
            assert known["attribute_value"] == "10"  # from the boot
            assert unknown["attribute_status"] == "UnknownVariable"

            id_token = {"id_token": "TAG", "type": "ISO14443"}
            started = await cp.call(
                calls.RequestStartTransaction(id_token=id_token, remote_start_id=5)
            )
            assert started.status == "Accepted"
            await cp.transaction_seen.wait()
            (transaction,) = cp.transactions
            assert transaction["event_type"] == "Started"
            assert transaction["trigger_reason"] == "RemoteStart"
            assert transaction["transaction_info"]["transaction_id"] == "tx-5"
            assert transaction["id_token"] == id_token

            reset = await cp.call(calls.Reset(type="Immediate"))
            assert reset.status == "Accepted"


# -- the command lines ----------------------------------------------------------------------------


#: Reconnect at once: the example charge point's back-off is 10-20 s by default.
QUICK_RETRIES = ["--retry-wait-minimum", "0.1", "--retry-random-range", "0.1"]


async def test_command_lines() -> None:
    port = free_port()
    with trio.fail_after(15):
        server_args = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
        async with open_process(server_args) as server:
            await wait_listening(port)
            client_args = [
                "python",
                "-m",
                "trio_ocpp.examples.charge_point",
                "--url",
                f"ws://127.0.0.1:{port}",
                "--id",
                "CP_CLI",
                "--version",
                "2.0.1",
                "--heartbeats",
                "1",
                "--heartbeat-interval",
                "0.1",
            ]
            async with open_process(client_args) as client:
                assert await client.wait() == 0, client.report()
            log = client.stderr.text
            assert 'CP_CLI: send [2,"' in log and '"BootNotification"' in log, log
            assert '"Heartbeat",{}]' in log, log
            assert "CP_CLI: receive message [3," in log, log
            assert "CP_CLI: connected (OCPP 2.0.1)" in server.stderr.text, server.report()


async def test_command_lines_with_security_profiles_2_and_3(tmp_path: Path) -> None:
    # wss:// with a client certificate and a Basic auth password: every security flag at once.
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "csms.pem")
    )
    client_cert = ca.issue_cert(common_name="CP_TLS").private_key_and_cert_chain_pem
    client_cert.write_to_path(str(tmp_path / "cp.pem"))
    (tmp_path / "passwords.txt").write_text("CP_TLS:a 2.x password of 16+ chars\n")
    port = free_port()
    server_args = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    server_args += ["--basic-auth", str(tmp_path / "passwords.txt")]
    server_args += ["--certfile", str(tmp_path / "csms.pem"), "--cafile", str(tmp_path / "ca.pem")]
    client_args = ["python", "-m", "trio_ocpp.examples.charge_point", "--id", "CP_TLS"]
    client_args += ["--url", f"wss://127.0.0.1:{port}", "--heartbeats", "1"]
    client_args += ["--heartbeat-interval", "0.1", "--version", "2.1"]
    client_args += ["--cafile", str(tmp_path / "ca.pem"), "--certfile", str(tmp_path / "cp.pem")]
    with trio.fail_after(15):
        async with open_process(server_args) as server:
            await wait_listening(port)
            wrong = [*client_args, "--basic-auth", "wrong password!!", *QUICK_RETRIES]
            async with open_process(wrong) as client:
                # 401: the password is checked; a charge point tries again, as after any refusal.
                await client.wait_for(
                    lambda: client.stderr.text.count("connection rejected: 401") >= 2,
                    "401, twice",
                    8,
                    client.stderr,
                )
                client.process.send_signal(signal.SIGTERM)
                assert await client.wait() == 0, client.report()
            assert "Traceback" not in client.stderr.text, client.report()
            async with open_process(
                [*client_args, "--basic-auth", "a 2.x password of 16+ chars"]
            ) as client:
                assert await client.wait() == 0, client.report()
            assert "CP_TLS: connected (OCPP 2.1)" in server.stderr.text, server.report()


async def test_the_example_charge_point_reconnects_when_the_central_system_restarts() -> None:
    # The user trial: after a restart it died at its next heartbeat with an ExceptionGroup.
    port = free_port()
    server_args = ["python", "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    client_args = ["python", "-m", "trio_ocpp.examples.charge_point", "--id", "CP_RESTART"]
    client_args += ["--url", f"ws://127.0.0.1:{port}", "--version", "2.0.1", *QUICK_RETRIES]
    client_args += ["--heartbeat-interval", "0.2"]

    def boots() -> int:
        return client.stderr.text.count("CP_RESTART: accepted")

    with trio.fail_after(30):
        async with open_process(client_args) as client:  # refused until the server listens
            async with open_process(server_args) as server:
                await client.wait_for(lambda: boots() == 1, "the first boot", 8, client.stderr)
                server.process.send_signal(signal.SIGTERM)
                assert await server.wait() == 0, server.report()
            await client.wait_for(
                lambda: "reconnecting in" in client.stderr.text.rpartition("accepted")[2],
                "a reconnection attempt",
                8,
                client.stderr,
            )
            async with open_process(server_args) as server:
                await client.wait_for(lambda: boots() == 2, "the boot again", 8, client.stderr)
                heartbeats = server.stderr.text.count('"Heartbeat"')
                await server.wait_for(
                    lambda: server.stderr.text.count('"Heartbeat"') > heartbeats + 1,
                    "heartbeats on the new connection",
                    8,
                    server.stderr,
                )
                client.process.send_signal(signal.SIGINT)
                assert await client.wait() == 0, client.report()
    assert "Traceback" not in client.stderr.text, client.report()
    assert "cannot connect to ws://127.0.0.1" in client.stderr.text  # the first attempts

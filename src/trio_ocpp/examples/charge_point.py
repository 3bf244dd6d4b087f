"""An example charge point: boot, heartbeat, and answer the central system.

Run it against the example central system (``python -m trio_ocpp``)::

    python -m trio_ocpp.examples.charge_point --url ws://localhost:9000 --id CP_1 --version 2.0.1

It stays connected with :class:`trio_ocpp.Client`: on each connection it sends a
BootNotification, then a Heartbeat at the interval the central system returned, and meanwhile
answers the central system's calls: 1.6 RemoteStartTransaction, GetConfiguration,
ChangeConfiguration and Reset; 2.x RequestStartTransaction, GetVariables and Reset. A lost
connection (a central system restarting) or a refused one is tried again with the OCPP back-off;
SIGINT (Ctrl-C) or SIGTERM closes the connection with 1001 and ends it
(:func:`trio_ocpp.stop_on_signals`). Every frame is logged at INFO. The security profiles:
``--basic-auth PASSWORD`` (1-2), ``wss://`` with ``--cafile`` for the central system's CA (2-3),
and ``--certfile``/``--keyfile`` for a client certificate (3).
"""

from __future__ import annotations

import argparse
import functools
import logging
import ssl
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import trio

import trio_ocpp
from trio_ocpp import v16, v21, v201
from trio_ocpp._server.signals import run_until_signalled
from trio_ocpp.charge_point import ChargePoint
from trio_ocpp.examples.central_system import parse_password
from trio_ocpp.routing import after, on
from trio_ocpp.v16.enums import Action, ConfigurationStatus, RemoteStartStopStatus, ResetStatus

logger = logging.getLogger("trio_ocpp.examples.charge_point")

VENDOR = "trio-ocpp"
MODEL = "Example"


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


class ChargePoint16(v16.ChargePoint):
    """The charge point's side of an OCPP 1.6 connection."""

    heartbeat_interval: float = 10
    #: Configuration keys as GetConfiguration reports them; ChangeConfiguration may set them.
    configuration: dict[str, str]
    resets: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = {"HeartbeatInterval": "10", "MeterValueSampleInterval": "60"}
        self.resets = []

    async def boot(self) -> v16.call_result.BootNotification:
        result: v16.call_result.BootNotification = await self.call(
            v16.call.BootNotification(charge_point_vendor=VENDOR, charge_point_model=MODEL)
        )
        if result.interval > 0:  # 0: the charge point keeps its own interval
            self.set_heartbeat_interval(result.interval)
        return result

    async def heartbeat(self) -> None:
        await self.call(v16.call.Heartbeat())

    def set_heartbeat_interval(self, seconds: float) -> None:
        self.heartbeat_interval = seconds
        self.configuration["HeartbeatInterval"] = str(int(seconds))

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, **kwargs: Any
    ) -> v16.call_result.RemoteStartTransaction:
        return v16.call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @after(Action.remote_start_transaction)
    async def start_transaction(self, id_tag: str, connector_id: int = 1, **kwargs: Any) -> None:
        # Once the answer is sent, the charge point starts the transaction it accepted.
        await self.call(
            v16.call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=0, timestamp=now()
            )
        )

    @on(Action.get_configuration)
    def on_get_configuration(
        self, key: list[str] | None = None
    ) -> v16.call_result.GetConfiguration:
        wanted = self.configuration.keys() if key is None else key
        return v16.call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": False, "value": self.configuration[k]}
                for k in wanted
                if k in self.configuration
            ],
            unknown_key=[k for k in wanted if k not in self.configuration] or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> v16.call_result.ChangeConfiguration:
        if key not in self.configuration:
            return v16.call_result.ChangeConfiguration(status=ConfigurationStatus.not_supported)
        if key == "HeartbeatInterval":
            if not value.isdigit() or int(value) == 0:
                return v16.call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
            self.set_heartbeat_interval(int(value))
        self.configuration[key] = value
        return v16.call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.reset)
    def on_reset(self, type: str) -> v16.call_result.Reset:
        # A real charge point would reboot after answering; this one only remembers it.
        self.resets.append(type)
        return v16.call_result.Reset(status=ResetStatus.accepted)


class _ChargingStation2x(ChargePoint):
    """The behaviour 2.0.1 and 2.1 share; ``calls``/``results`` are the version's modules."""

    calls: ModuleType
    results: ModuleType
    heartbeat_interval: float = 10
    resets: list[str]
    #: Device model variables that GetVariables reports, by (component, variable) name.
    variables: dict[tuple[str, str], str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resets = []
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): "10",
            ("DeviceDataCtrlr", "ItemsPerMessage"): "10",
        }

    async def boot(self) -> Any:
        result = await self.call(
            self.calls.BootNotification(
                charging_station={"model": MODEL, "vendor_name": VENDOR}, reason="PowerUp"
            )
        )
        if result.interval > 0:  # 0: the charge point keeps its own interval
            self.set_heartbeat_interval(result.interval)
        return result

    async def heartbeat(self) -> None:
        await self.call(self.calls.Heartbeat())

    def set_heartbeat_interval(self, seconds: float) -> None:
        self.heartbeat_interval = seconds
        self.variables["OCPPCommCtrlr", "HeartbeatInterval"] = str(int(seconds))

    @on("RequestStartTransaction")
    def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any
    ) -> Any:
        return self.results.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    async def start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any
    ) -> None:
        await self.call(
            self.calls.TransactionEvent(
                event_type="Started",
                timestamp=now(),
                trigger_reason="RemoteStart",
                seq_no=0,
                transaction_info={"transaction_id": f"tx-{remote_start_id}"},
                id_token=id_token,
            )
        )

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            value = self.variables.get((component["name"], variable["name"]))
            result: dict[str, Any] = {"component": component, "variable": variable}
            if value is None:
                result["attribute_status"] = "UnknownVariable"
            else:
                result.update(attribute_status="Accepted", attribute_value=value)
            results.append(result)
        return self.results.GetVariables(get_variable_result=results)

    @on("Reset")
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        self.resets.append(type)
        return self.results.Reset(status="Accepted")


class ChargePoint201(_ChargingStation2x, v201.ChargePoint):
    """The charging station's side of an OCPP 2.0.1 connection."""

    calls = v201.call
    results = v201.call_result


class ChargePoint21(_ChargingStation2x, v21.ChargePoint):
    """The charging station's side of an OCPP 2.1 connection."""

    calls = v21.call
    results = v21.call_result


CLASSES: dict[str, type[ChargePoint16 | ChargePoint201 | ChargePoint21]] = {
    "1.6": ChargePoint16,
    "2.0.1": ChargePoint201,
    "2.1": ChargePoint21,
}


async def main(
    url: str = "ws://localhost:9000",
    identity: str = "CP_1",
    version: str = "1.6",
    heartbeats: int | None = None,
    heartbeat_interval: float | None = None,
    *,
    basic_auth: str | bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    retry_wait_minimum: float = 10,
    retry_random_range: float = 10,
) -> int:
    """Boot on each connection, then heartbeat until SIGINT or SIGTERM, or until ``heartbeats``
    were sent in all; return how many were sent.

    ``heartbeat_interval`` overrides the interval the central system returned (for tests).
    ``basic_auth``: the password (security profiles 1-2); ``ssl_context`` for wss:// (2-3).
    ``retry_wait_minimum``, ``retry_random_range``: the reconnection back-off (``Client``).
    """
    sent = 0

    async def on_connect(cp: Any) -> None:
        nonlocal sent
        boot = await cp.boot()
        while boot.status != "Accepted":
            # Pending or Rejected: the interval says when to try again.
            await trio.sleep(max(boot.interval, 1))
            boot = await cp.boot()
        if heartbeat_interval is not None:
            cp.heartbeat_interval = heartbeat_interval
        logger.info("%s: accepted, heartbeat every %s s", cp.id, cp.heartbeat_interval)
        while heartbeats is None or sent < heartbeats:
            await trio.sleep(cp.heartbeat_interval)  # re-read: the central system may change it
            await cp.heartbeat()
            sent += 1
        await client.aclose()

    client = trio_ocpp.Client(
        url,
        CLASSES[version],
        identity=identity,
        on_connect=on_connect,
        basic_auth=basic_auth,
        ssl_context=ssl_context,
        retry_backoff_wait_minimum=retry_wait_minimum,
        retry_backoff_random_range=retry_random_range,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_ocpp.stop_on_signals, client)
        await client.run()  # until a signal, or the last heartbeat, closes it
        nursery.cancel_scope.cancel()
    return sent


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m trio_ocpp.examples.charge_point",
        description="Run the trio-ocpp example charge point.",
    )
    parser.add_argument("--url", default="ws://localhost:9000", help="central system endpoint")
    parser.add_argument("--id", default="CP_1", help="charge point identity (CP_1)")
    parser.add_argument("--version", default="1.6", choices=list(CLASSES), help="OCPP version")
    parser.add_argument("--heartbeats", type=int, help="stop after this many heartbeats")
    parser.add_argument(
        "--heartbeat-interval", type=float, help="seconds between heartbeats (server's value)"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO shows frames)")
    reconnecting = parser.add_argument_group(
        "reconnecting",
        "after a lost or refused connection it waits the minimum, doubled after each failed "
        "attempt (at most 3 times), plus a random part up to the range",
    )
    reconnecting.add_argument(
        "--retry-wait-minimum", type=float, default=10, metavar="SECONDS", help="(10)"
    )
    reconnecting.add_argument(
        "--retry-random-range", type=float, default=10, metavar="SECONDS", help="(10)"
    )
    security = parser.add_argument_group("security profiles")
    security.add_argument(
        "--basic-auth",
        metavar="PASSWORD",
        help="HTTP Basic auth with this password, the identity as username (profiles 1-2); "
        "hex:<hex> for a raw 1.6 AuthorizationKey",
    )
    security.add_argument(
        "--cafile", metavar="FILE", help="verify a wss:// central system against these CAs"
    )
    security.add_argument(
        "--certfile", metavar="FILE", help="client certificate chain, PEM (profile 3)"
    )
    security.add_argument("--keyfile", metavar="FILE", help="its private key, if not in certfile")
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    tls = args.cafile or args.certfile
    if tls and not args.url.startswith("wss://"):
        parser.error("--cafile and --certfile are for a wss:// URL")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    password = None if args.basic_auth is None else parse_password(args.basic_auth)
    context = None
    if tls:
        context = trio_ocpp.client_ssl_context(
            cafile=args.cafile, certfile=args.certfile, keyfile=args.keyfile
        )
    # main() stops on signals itself; this catches those before it runs (and after).
    run_until_signalled(
        functools.partial(
            main,
            args.url,
            args.id,
            args.version,
            args.heartbeats,
            args.heartbeat_interval,
            basic_auth=password,
            ssl_context=context,
            retry_wait_minimum=args.retry_wait_minimum,
            retry_random_range=args.retry_random_range,
        )
    )


if __name__ == "__main__":
    run()

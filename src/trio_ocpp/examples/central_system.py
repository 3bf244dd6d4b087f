"""An example central system (CSMS) that answers the everyday messages of every OCPP version.

It accepts every charge point, answers BootNotification, Heartbeat, StatusNotification,
Authorize, MeterValues and the transaction messages, and logs every frame. ``python -m trio_ocpp``
runs it; ``main()`` shows how an application runs a server next to its own tasks.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import trio

from trio_ocpp import Server, v16, v21, v201
from trio_ocpp.routing import on
from trio_ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

logger = logging.getLogger("trio_ocpp.examples.central_system")

HEARTBEAT_INTERVAL = 10


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


class CentralSystem16(v16.ChargePoint):
    """The central system's side of an OCPP 1.6 connection."""

    _transaction_ids = itertools.count(1)

    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: Any) -> v16.call_result.StatusNotification:
        return v16.call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> v16.call_result.Authorize:
        return v16.call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> v16.call_result.MeterValues:
        return v16.call_result.MeterValues()

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **kwargs: Any) -> v16.call_result.StartTransaction:
        return v16.call_result.StartTransaction(
            transaction_id=next(self._transaction_ids),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **kwargs: Any) -> v16.call_result.StopTransaction:
        return v16.call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


class _CentralSystem2x:
    """The handlers 2.0.1 and 2.1 share; ``results`` is the version's call_result module."""

    results: ModuleType

    @on("BootNotification")
    def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> Any:
        return self.results.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return self.results.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status_notification(self, **kwargs: Any) -> Any:
        return self.results.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
        return self.results.Authorize(id_token_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        return self.results.MeterValues()

    @on("TransactionEvent")
    def on_transaction_event(self, id_token: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if id_token is None:
            return self.results.TransactionEvent()
        return self.results.TransactionEvent(id_token_info={"status": "Accepted"})


class CentralSystem201(_CentralSystem2x, v201.ChargePoint):
    """The central system's side of an OCPP 2.0.1 connection."""

    results = v201.call_result


class CentralSystem21(_CentralSystem2x, v21.ChargePoint):
    """The central system's side of an OCPP 2.1 connection."""

    results = v21.call_result


CLASSES = {"1.6": CentralSystem16, "2.0.1": CentralSystem201, "2.1": CentralSystem21}


async def main(
    host: str = "0.0.0.0",
    port: int = 9000,
    versions: tuple[str, ...] = ("2.1", "2.0.1", "1.6"),
    default_version: str | None = "1.6",
) -> None:
    """Serve until interrupted. ``default_version`` serves clients that offer no subprotocol,
    so that generic tools (``python -m websockets``, wscat without ``-s``) can talk to it."""
    server = Server(
        [CLASSES[v] for v in versions],
        default_version=default_version if default_version in versions else None,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run, host, port)
        logger.info("central system listening on ws://%s:%d/<charge point id>", host, server.port)

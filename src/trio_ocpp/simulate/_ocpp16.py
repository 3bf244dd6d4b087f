"""The simulated charge point's OCPP 1.6 side."""

from __future__ import annotations

from typing import Any

import trio

from .. import v16
from ..routing import after, on
from ._adapter import MODEL, VENDOR, Adapter, reading, timestamp
from ._state import Connector, RemoteStart, Setting, Transaction


def _sample(register_wh: float, context: str) -> dict[str, Any]:
    return {
        "value": f"{reading(register_wh):.1f}",
        "context": context,
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }


class ChargePoint16(Adapter, v16.ChargePoint):
    """A simulated charge point on an OCPP 1.6 connection."""

    # -- what it sends ------------------------------------------------------------------------

    async def boot(self) -> tuple[str | None, float]:
        result = await self.request(
            v16.call.BootNotification(charge_point_vendor=VENDOR, charge_point_model=MODEL)
        )
        return (None, 0) if result is None else (result.status, result.interval)

    async def heartbeat(self) -> None:
        await self.request(v16.call.Heartbeat())

    async def send_status(self, connector: Connector) -> None:
        await self.request(
            v16.call.StatusNotification(
                connector_id=connector.id,
                error_code="NoError",
                status=connector.status,
                timestamp=timestamp(),
            )
        )

    async def authorize(self, id_tag: str) -> bool:
        result = await self.request(v16.call.Authorize(id_tag=id_tag))
        return result is not None and result.id_tag_info["status"] == "Accepted"

    async def start_transaction(
        self, connector: Connector, transaction: Transaction
    ) -> bool | None:
        result = await self.request(
            v16.call.StartTransaction(
                connector_id=connector.id,
                id_tag=transaction.id_tag,
                meter_start=int(transaction.start_wh),
                timestamp=timestamp(),
            )
        )
        if result is None:
            return None
        transaction.id = result.transaction_id
        return bool(result.id_tag_info["status"] == "Accepted")

    async def meter(self, connector: Connector, transaction: Transaction, now: float) -> None:
        await self.request(
            v16.call.MeterValues(
                connector_id=connector.id,
                transaction_id=int(transaction.id),
                meter_value=[
                    {
                        "timestamp": timestamp(),
                        "sampled_value": [_sample(transaction.register_at(now), "Sample.Periodic")],
                    }
                ],
            )
        )

    async def stop_transaction(
        self, connector: Connector, transaction: Transaction, reason: str, now: float
    ) -> None:
        await self.request(
            v16.call.StopTransaction(
                transaction_id=int(transaction.id),
                meter_stop=int(transaction.register_at(now)),
                timestamp=timestamp(),
                id_tag=transaction.id_tag,
                reason=reason,
            )
        )

    # -- what it answers ----------------------------------------------------------------------

    @on("RemoteStartTransaction")
    def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, **kwargs: Any
    ) -> v16.call_result.RemoteStartTransaction:
        started = self.state.remote_start(connector_id, RemoteStart(id_tag))
        return v16.call_result.RemoteStartTransaction(status="Accepted" if started else "Rejected")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> v16.call_result.RemoteStopTransaction:
        stopped = self.state.remote_stop(transaction_id, "Remote")
        return v16.call_result.RemoteStopTransaction(status="Accepted" if stopped else "Rejected")

    @on("Reset")
    def on_reset(self, type: str) -> v16.call_result.Reset:
        return v16.call_result.Reset(status="Accepted")

    @after("Reset")
    def reboot(self, type: str) -> None:
        self.state.request_reboot("HardReset" if type == "Hard" else "SoftReset")

    @on("ChangeAvailability")
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> v16.call_result.ChangeAvailability:
        status = self.state.change_availability(connector_id, type == "Operative")
        return v16.call_result.ChangeAvailability(status=status)

    @on("UnlockConnector")
    def on_unlock_connector(self, connector_id: int) -> v16.call_result.UnlockConnector:
        status = self.state.unlock(connector_id)
        if status == "OngoingAuthorizedTransaction":
            # 1.6: unlocking a connector with a transaction stops the transaction first.
            connector = self.state.connector(connector_id)
            assert connector is not None and connector.transaction is not None
            self.state.remote_stop(connector.transaction.id, "UnlockCommand")
            status = "Unlocked"
        return v16.call_result.UnlockConnector(
            status="NotSupported" if status == "UnknownConnector" else status
        )

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> v16.call_result.TriggerMessage:
        known = requested_message in ("BootNotification", "Heartbeat", "StatusNotification")
        if requested_message == "MeterValues":
            known = self._transaction_on(connector_id) is not None
        return v16.call_result.TriggerMessage(status="Accepted" if known else "Rejected")

    @after("TriggerMessage")
    async def send_triggered(self, requested_message: str, connector_id: int | None = None) -> None:
        found = self._transaction_on(connector_id)
        if requested_message == "MeterValues" and found is not None:
            await self.meter(*found, trio.current_time())
        else:
            await self.send_requested(requested_message, connector_id)

    def _transaction_on(self, connector_id: int | None) -> tuple[Connector, Transaction] | None:
        for connector in self.state.connectors:
            if connector_id in (None, 0, connector.id) and connector.transaction is not None:
                return connector, connector.transaction
        return None

    @on("GetConfiguration")
    def on_get_configuration(
        self, key: list[str] | None = None
    ) -> v16.call_result.GetConfiguration:
        configuration = self.state.configuration
        wanted = key or list(configuration)
        return v16.call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": configuration[k].readonly, "value": configuration[k].value}
                for k in wanted
                if k in configuration
            ],
            unknown_key=[k for k in wanted if k not in configuration] or None,
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> v16.call_result.ChangeConfiguration:
        setting = self.state.configuration.get(key)
        if setting is None:
            status = "NotSupported"
        elif setting.readonly or not self.state.valid_setting(key, value):
            status = "Rejected"
        else:
            self.state.configuration[key] = Setting(value)
            status = "Accepted"
        return v16.call_result.ChangeConfiguration(status=status)

    @on("ClearCache")
    def on_clear_cache(self) -> v16.call_result.ClearCache:
        return v16.call_result.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> v16.call_result.DataTransfer:
        return v16.call_result.DataTransfer(status="UnknownVendorId")

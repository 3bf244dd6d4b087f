"""The simulated charge point's OCPP 2.0.1 and 2.1 side (what it uses is the same in both)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .. import v21, v201
from ..routing import after, on
from ._adapter import MODEL, VENDOR, Adapter, reading, timestamp
from ._state import Connector, RemoteStart, Setting, Transaction

#: The device model's variables, by (component, variable), onto the configuration's keys.
VARIABLES = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): "HeartbeatInterval",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "MeterValueSampleInterval",
    ("AuthCtrlr", "AuthorizeRemoteStart"): "AuthorizeRemoteTxRequests",
    ("TxCtrlr", "EVConnectionTimeOut"): "ConnectionTimeOut",
}
COMPONENTS = {component for component, _ in VARIABLES}

#: TransactionEvent Ended's triggerReason, by stoppedReason.
_TRIGGERS = {
    "Remote": "RemoteStop",
    "ImmediateReset": "ResetCommand",
    "DeAuthorized": "Deauthorized",
}


def _sample(register_wh: float, context: str) -> dict[str, Any]:
    return {
        "value": reading(register_wh),
        "context": context,
        "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh"},
    }


class _ChargingStation2x(Adapter):
    """``calls``/``results``: the version's message modules."""

    calls: ModuleType
    results: ModuleType

    # -- what it sends ------------------------------------------------------------------------

    async def boot(self) -> tuple[str | None, float]:
        result = await self.request(
            self.calls.BootNotification(
                charging_station={"model": MODEL, "vendor_name": VENDOR}, reason="PowerUp"
            )
        )
        return (None, 0) if result is None else (result.status, result.interval)

    async def heartbeat(self) -> None:
        await self.request(self.calls.Heartbeat())

    async def send_status(self, connector: Connector) -> None:
        status = connector.status
        await self.request(
            self.calls.StatusNotification(
                timestamp=timestamp(),
                connector_status="Occupied" if status == "Charging" else status,
                evse_id=connector.id,
                connector_id=1,
            )
        )

    async def authorize(self, id_tag: str) -> bool:
        result = await self.request(self.calls.Authorize(id_token=_token(id_tag)))
        return result is not None and result.id_token_info["status"] == "Accepted"

    async def _event(
        self,
        connector: Connector,
        transaction: Transaction,
        event_type: str,
        trigger: str,
        info: dict[str, Any],
        register_wh: float,
        context: str,
        **extra: Any,
    ) -> Any:
        seq_no = transaction.seq_no
        transaction.seq_no += 1
        return await self.request(
            self.calls.TransactionEvent(
                event_type=event_type,
                timestamp=timestamp(),
                trigger_reason=trigger,
                seq_no=seq_no,
                transaction_info={"transaction_id": str(transaction.id), **info},
                evse={"id": connector.id, "connector_id": 1},
                meter_value=[
                    {"timestamp": timestamp(), "sampled_value": [_sample(register_wh, context)]}
                ],
                **extra,
            )
        )

    async def start_transaction(
        self, connector: Connector, transaction: Transaction
    ) -> bool | None:
        info: dict[str, Any] = {"charging_state": "Charging"}
        if transaction.remote_start_id is not None:
            info["remote_start_id"] = transaction.remote_start_id
        trigger = "RemoteStart" if transaction.remote_start_id is not None else "Authorized"
        result = await self._event(
            connector,
            transaction,
            "Started",
            trigger,
            info,
            transaction.start_wh,
            "Transaction.Begin",
            id_token=_token(transaction.id_tag),
        )
        if result is None:
            return None
        return not result.id_token_info or result.id_token_info["status"] == "Accepted"

    async def meter(self, connector: Connector, transaction: Transaction, now: float) -> None:
        await self._event(
            connector,
            transaction,
            "Updated",
            "MeterValuePeriodic",
            {"charging_state": "Charging"},
            transaction.register_at(now),
            "Sample.Periodic",
        )

    async def stop_transaction(
        self, connector: Connector, transaction: Transaction, reason: str, now: float
    ) -> None:
        await self._event(
            connector,
            transaction,
            "Ended",
            _TRIGGERS.get(reason, "StopAuthorized"),
            {"charging_state": "Idle", "stopped_reason": reason},
            transaction.register_at(now),
            "Transaction.End",
        )

    # -- what it answers ----------------------------------------------------------------------

    @on("RequestStartTransaction")
    def on_request_start(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        evse_id: int | None = None,
        **kwargs: Any,
    ) -> Any:
        start = RemoteStart(id_token["id_token"], remote_start_id)
        started = self.state.remote_start(evse_id, start)
        return self.results.RequestStartTransaction(status="Accepted" if started else "Rejected")

    @on("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, **kwargs: Any) -> Any:
        stopped = self.state.remote_stop(transaction_id, "Remote")
        return self.results.RequestStopTransaction(status="Accepted" if stopped else "Rejected")

    @on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **kwargs: Any) -> Any:
        # Resetting one EVSE is optional: this station reboots as a whole or not at all.
        return self.results.Reset(status="Rejected" if evse_id else "Accepted")

    @after("Reset")
    def reboot(self, type: str, evse_id: int | None = None, **kwargs: Any) -> None:
        if not evse_id:  # OnIdle: the transactions finish first
            self.state.request_reboot("ImmediateReset" if type == "Immediate" else None)

    @on("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        connector_id = 0 if evse is None else evse["id"]
        status = self.state.change_availability(connector_id, operational_status == "Operative")
        return self.results.ChangeAvailability(status=status)

    @on("UnlockConnector")
    def on_unlock_connector(self, evse_id: int, connector_id: int, **kwargs: Any) -> Any:
        status = self.state.unlock(evse_id) if connector_id == 1 else "UnknownConnector"
        return self.results.UnlockConnector(status=status)

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        known = requested_message in ("BootNotification", "Heartbeat", "StatusNotification")
        return self.results.TriggerMessage(status="Accepted" if known else "NotImplemented")

    @after("TriggerMessage")
    async def send_triggered(
        self, requested_message: str, evse: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        await self.send_requested(requested_message, None if evse is None else evse["id"])

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            result: dict[str, Any] = {"component": component, "variable": variable}
            key = VARIABLES.get((component["name"], variable["name"]))
            if key is None:
                result["attribute_status"] = _unknown(component)
            else:
                value = self.state.configuration[key].value
                result.update(attribute_status="Accepted", attribute_value=value)
            results.append(result)
        return self.results.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            key = VARIABLES.get((component["name"], variable["name"]))
            value = item["attribute_value"]
            if key is None:
                status = _unknown(component)
            elif not self.state.valid_setting(key, value):
                status = "Rejected"
            else:
                self.state.configuration[key] = Setting(value)
                status = "Accepted"
            results.append(
                {"attribute_status": status, "component": component, "variable": variable}
            )
        return self.results.SetVariables(set_variable_result=results)

    @on("ClearCache")
    def on_clear_cache(self, **kwargs: Any) -> Any:
        return self.results.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> Any:
        return self.results.DataTransfer(status="UnknownVendorId")


def _token(id_tag: str) -> dict[str, str]:
    return {"id_token": id_tag, "type": "ISO14443"}


def _unknown(component: dict[str, Any]) -> str:
    return "UnknownVariable" if component["name"] in COMPONENTS else "UnknownComponent"


class ChargePoint201(_ChargingStation2x, v201.ChargePoint):
    """A simulated charging station on an OCPP 2.0.1 connection."""

    calls = v201.call
    results = v201.call_result


class ChargePoint21(_ChargingStation2x, v21.ChargePoint):
    """A simulated charging station on an OCPP 2.1 connection."""

    calls = v21.call
    results = v21.call_result

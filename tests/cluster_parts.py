"""Parts the cluster tests share: a central system's classes and a charge point that answers."""

from __future__ import annotations

from typing import Any

import trio

from trio_ocpp import v201
from trio_ocpp.routing import on

TIME = "2024-01-01T00:00:00Z"


class Csms(v201.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time=TIME)

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> Any:
        return v201.call_result.BootNotification(current_time=TIME, interval=10, status="Accepted")

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any]) -> Any:
        return v201.call_result.Authorize(id_token_info={"status": "Accepted"})


class Station(v201.ChargePoint):
    """Answers GetVariables with the name it was asked, and GetLocalListVersion slowly."""

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        results = [
            {
                "attributeStatus": "Accepted",
                "attributeValue": self.id,
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in get_variable_data
        ]
        return v201.call_result.GetVariables(get_variable_result=results)

    @on("Reset")
    def on_reset(self, type: str) -> Any:
        raise ValueError("a reset is refused")  # answered with InternalError

    @on("GetLocalListVersion")
    async def on_get_local_list_version(self) -> Any:
        await trio.sleep(3600)


def get_variables(name: str = "HeartbeatInterval") -> v201.call.GetVariables:
    data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name}}]
    return v201.call.GetVariables(get_variable_data=data)

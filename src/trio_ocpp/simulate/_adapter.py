"""What a simulated charge point needs of an OCPP version: the messages it sends. Each
version's adapter (a ChargePoint of that version) also answers the central system's commands
by changing the :class:`~.state.StationState` it is given."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from .._core.errors import CallTimeoutError
from .._runtime.charge_point import ChargePoint
from ._state import Connector, StationState, Transaction

VENDOR = "trio-ocpp"
MODEL = "Simulator"


def reading(register_wh: float) -> float:
    """The register as a meter shows it: to 0.1 Wh, rounded down so readings never run ahead
    of the register (a later stop's register is never below them)."""
    return math.floor(register_wh * 10) / 10


def timestamp() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Adapter(ChargePoint):
    """The charge point's side of one connection; ``state`` outlives it."""

    def __init__(self, *args: Any, state: StationState, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    async def request(self, payload: Any) -> Any:
        """``call()``, None for a CALLERROR or no answer: the observers count those, and the
        charge point carries on as a real one would."""
        try:
            return await self.call(payload, suppress=True)
        except CallTimeoutError:
            return None

    async def send_requested(self, message: str, connector_id: int | None) -> None:
        """What a TriggerMessage asked for (of all connectors for None or 0), once accepted."""
        if message == "BootNotification":
            await self.boot()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            for connector in self.state.connectors:
                if connector_id in (None, 0, connector.id):
                    await self.send_status(connector)

    # -- what each version implements -------------------------------------------------------

    async def boot(self) -> tuple[str | None, float]:
        """BootNotification: the status (None: no answer) and the interval."""
        raise NotImplementedError

    async def heartbeat(self) -> None:
        raise NotImplementedError

    async def send_status(self, connector: Connector) -> None:
        raise NotImplementedError

    async def authorize(self, id_tag: str) -> bool:
        raise NotImplementedError

    async def start_transaction(
        self, connector: Connector, transaction: Transaction
    ) -> bool | None:
        """Tell the central system: did it accept the id tag (False: the charge point stops
        the transaction)? None: no answer."""
        raise NotImplementedError

    async def meter(self, connector: Connector, transaction: Transaction, now: float) -> None:
        raise NotImplementedError

    async def stop_transaction(
        self, connector: Connector, transaction: Transaction, reason: str, now: float
    ) -> None:
        raise NotImplementedError

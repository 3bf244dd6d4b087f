"""A simulated charge point's state, whatever the OCPP version: connectors, their
transactions and energy registers, availability and the configuration it keeps."""

from __future__ import annotations

import math

import attrs
import trio


@attrs.define(eq=False)
class Transaction:
    """A transaction running on a connector; ``id`` is the central system's (1.6) or ours (2.x)."""

    id: int | str
    id_tag: str
    power_w: float
    started: float  # trio time
    ends: float  # trio time
    start_wh: float
    remote_start_id: int | None = None
    seq_no: int = 0  # 2.x TransactionEvent sequence
    next_meter: float = 0.0

    def register_at(self, when: float) -> float:
        """The energy register (Wh) at trio time ``when``: rises with the power, never falls."""
        return self.start_wh + self.power_w * max(0.0, when - self.started) / 3600


@attrs.define(eq=False)
class RemoteStart:
    id_tag: str
    remote_start_id: int | None = None


@attrs.define(eq=False)
class Connector:
    """One connector (1.6) or EVSE with one connector (2.x)."""

    id: int
    register_wh: float = 0.0
    operative: bool = True
    #: An availability change that waits for the running transaction to end (Scheduled).
    scheduled_operative: bool | None = None
    transaction: Transaction | None = None
    remote_start: RemoteStart | None = None
    #: Why the running transaction must stop (a version's reason), set by a command.
    stop_reason: str | None = None
    next_start: float = math.inf  # trio time a driver arrives
    #: The status the central system was last told on this connection (None: not yet).
    reported: str | None = None
    changed: trio.Event = attrs.field(factory=trio.Event)

    @property
    def status(self) -> str:
        """The 1.6 status (the 2.x adapters map it)."""
        if self.transaction is not None:
            return "Charging"
        return "Available" if self.operative else "Unavailable"

    def poke(self) -> None:
        """Wake its driver task: something changed."""
        self.changed.set()

    def set_operative(self, operative: bool) -> str:
        """ChangeAvailability of this connector: Accepted, or Scheduled after its transaction."""
        if self.transaction is not None and operative != self.operative:
            self.scheduled_operative = operative
            return "Scheduled"
        self.operative = operative
        self.poke()
        return "Accepted"


@attrs.frozen
class Setting:
    value: str
    readonly: bool = False


#: The configuration every simulated charge point keeps, by its 1.6 key; the 2.x adapters map
#: (component, variable) names onto these.
def default_configuration(connectors: int, meter_interval: float) -> dict[str, Setting]:
    return {
        "HeartbeatInterval": Setting("60"),
        "MeterValueSampleInterval": Setting(str(int(meter_interval))),
        "NumberOfConnectors": Setting(str(connectors), readonly=True),
        "AuthorizeRemoteTxRequests": Setting("false"),
        "ConnectionTimeOut": Setting("60"),
    }


class StationState:
    """What a simulated charge point is, across its connections and reboots: the central
    system's commands change it (through a version's adapter), its driver tasks act on it."""

    def __init__(self, connectors: int, meter_interval: float) -> None:
        self.connectors = [Connector(n) for n in range(1, connectors + 1)]
        self.configuration = default_configuration(connectors, meter_interval)
        #: Set when a Reset's transactions have ended: the charge point reboots.
        self.reboot = trio.Event()
        self.rebooting = False
        self._transaction_ids = 0

    def connector(self, connector_id: int | None) -> Connector | None:
        """The connector of this id; None (or 0) picks the first idle operative one."""
        if not connector_id:
            idle = (c for c in self.connectors if c.transaction is None and c.operative)
            return next(idle, None)
        if 1 <= connector_id <= len(self.connectors):
            return self.connectors[connector_id - 1]
        return None

    def setting(self, key: str) -> float:
        return float(self.configuration[key].value)

    def valid_setting(self, key: str, value: str) -> bool:
        """Intervals are whole seconds, at least 1; booleans are true or false."""
        if self.configuration[key].value in ("true", "false"):
            return value in ("true", "false")
        return value.isdigit() and int(value) > 0

    def next_transaction_id(self, identity: str) -> str:
        self._transaction_ids += 1
        return f"{identity}-{self._transaction_ids}"

    def remote_start(self, connector_id: int | None, start: RemoteStart) -> bool:
        """Accept a remote start if the connector is free and operative (and no reboot waits)."""
        connector = self.connector(connector_id)
        if (
            connector is None
            or self.rebooting
            or not connector.operative
            or connector.transaction is not None
            or connector.remote_start is not None
        ):
            return False
        connector.remote_start = start
        connector.poke()
        return True

    def remote_stop(self, transaction_id: int | str, reason: str) -> bool:
        for connector in self.connectors:
            if connector.transaction is not None and connector.transaction.id == transaction_id:
                connector.stop_reason = reason
                connector.poke()
                return True
        return False

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """Accepted, Scheduled (after a running transaction) or Rejected (no such connector)."""
        if connector_id == 0:
            statuses = {c.set_operative(operative) for c in self.connectors}
            return "Scheduled" if "Scheduled" in statuses else "Accepted"
        connector = self.connector(connector_id)
        return "Rejected" if connector is None else connector.set_operative(operative)

    def unlock(self, connector_id: int) -> str:
        """Unlocked, or why not (1.6 has no status for a transaction: it ends it, as the spec
        says a charge point should; 2.x refuses)."""
        connector = self.connector(connector_id)
        if connector is None:
            return "UnknownConnector"
        return "Unlocked" if connector.transaction is None else "OngoingAuthorizedTransaction"

    def request_reboot(self, stop_reason: str | None) -> None:
        """A Reset: stop transactions with ``stop_reason`` (None: let them finish), then reboot."""
        self.rebooting = True
        for connector in self.connectors:
            if connector.transaction is not None and stop_reason is not None:
                connector.stop_reason = stop_reason
            connector.poke()
        self.reboot_if_idle()

    def reboot_if_idle(self) -> None:
        if self.rebooting and all(c.transaction is None for c in self.connectors):
            self.reboot.set()

"""The simulated charge point: a station that boots, heartbeats, runs transactions on its
connectors and does what the central system tells it, over :class:`~trio_ocpp.Client`
connections (reconnecting with the OCPP back-off) and across reboots."""

from __future__ import annotations

import logging
import math
import random
import ssl
from typing import Any, ClassVar

import trio

from .._client.client import Client
from .._core.errors import ConnectionClosedError
from .._core.logsafe import escape
from .._core.versions import OCPPVersion
from ._adapter import Adapter
from ._behaviour import Behaviour
from ._ocpp2x import ChargePoint21, ChargePoint201
from ._ocpp16 import ChargePoint16
from ._state import Connector, Setting, StationState, Transaction
from ._stats import FleetStats

__all__ = [
    "SimulatedChargePoint",
    "SimulatedChargePoint16",
    "SimulatedChargePoint21",
    "SimulatedChargePoint201",
]

logger = logging.getLogger("trio_ocpp.simulate")

#: Seconds between boot attempts when the central system gives no interval.
BOOT_RETRY = 10.0
#: Seconds a rebooting charge point waits for the answers to the calls it sent.
REBOOT_GRACE = 10.0


class SimulatedChargePoint:
    """A charge point with ``connectors`` connectors, behaving as ``behaviour`` says; run it
    with ``await nursery.start(cp.run)`` until cancelled. Use the class of a version
    (:class:`SimulatedChargePoint16`, ...). ``stats`` (shared by a fleet) counts what it does;
    ``rng`` makes its behaviour repeatable. The other options are :class:`~trio_ocpp.Client`'s
    (``basic_auth``, ``ssl_context``, the back-off, ...)."""

    adapter: ClassVar[type[Adapter]]

    def __init__(
        self,
        url: str,
        identity: str,
        *,
        connectors: int = 1,
        behaviour: Behaviour | None = None,
        stats: FleetStats | None = None,
        rng: random.Random | None = None,
        basic_auth: str | bytes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **client_options: Any,
    ) -> None:
        self.url = url
        self.identity = identity
        self.behaviour = behaviour or Behaviour()
        self.stats = stats or FleetStats()
        self.rng = rng or random.Random()
        self.state = StationState(connectors, self.behaviour.meter_interval)
        self._client_options = dict(
            client_options, identity=identity, basic_auth=basic_auth, ssl_context=ssl_context
        )
        self._client_options.setdefault("rng", self.rng)
        #: Set once the charge point was first accepted (its first boot).
        self.booted = trio.Event()
        #: How many times it booted (accepted); a Reset adds one.
        self.boots = 0
        self._heartbeat_changed = trio.Event()

    @property
    def version(self) -> OCPPVersion:
        return self.adapter._ocpp_version

    @property
    def connectors(self) -> list[Connector]:
        return self.state.connectors

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Power up, and stay up until cancelled; a Reset reboots it (a new connection)."""
        now = trio.current_time()
        for connector in self.state.connectors:
            connector.next_start = now + self.behaviour.first_idle(self.rng)
        task_status.started()
        while True:
            await self._power_cycle()
            await trio.sleep(self.behaviour.reboot(self.rng))

    async def _power_cycle(self) -> None:
        """From power-up to a reboot."""
        state = self.state
        state.reboot, state.rebooting = trio.Event(), False
        client = Client(
            self.url,
            self.adapter,
            on_connect=self._online,
            on_connect_error=self.stats.connect_failed,
            observers=[self.stats],
            state=state,
            **self._client_options,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.run)
            await state.reboot.wait()
            logger.info("%s: rebooting", escape(self.identity))
            # What is on its way is answered first: the last StopTransactions (billing events)
            # and the status changes that came with them.
            await client.aclose(REBOOT_GRACE)

    async def _online(self, cp: Adapter) -> None:
        """One connection: boot, status, then heartbeats and the connectors' transactions."""
        try:
            await self._boot(cp)
            self.stats.booted += 1
            try:
                for connector in self.state.connectors:
                    connector.reported = None  # a new connection hears every status
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._heartbeats, cp)
                    for connector in self.state.connectors:
                        nursery.start_soon(self._drive, cp, connector)
            finally:
                self.stats.booted -= 1
        except ConnectionClosedError:
            raise
        except Exception as exc:
            # A bug of ours, not the central system's: counted, and this connection ends.
            logger.exception("%s: simulator failure", escape(self.identity))
            self.stats.crashed(exc)
            await cp.aclose(1011, "simulator failure")

    async def _boot(self, cp: Adapter) -> None:
        """BootNotification until Accepted (Pending and Rejected: again after the interval)."""
        while True:
            status, interval = await cp.boot()
            self.stats.boots += 1
            if status == "Accepted":
                break
            self.stats.boots_refused += 1
            await trio.sleep(interval if interval > 0 else BOOT_RETRY)
        if interval > 0:
            self.state.configuration["HeartbeatInterval"] = Setting(str(int(interval)))
        if not self.boots:
            self.stats.first_boot()
        self.boots += 1
        self.booted.set()

    def heartbeat_interval(self) -> float:
        if self.behaviour.heartbeat_interval is not None:
            return self.behaviour.heartbeat_interval
        return self.state.setting("HeartbeatInterval")

    async def _heartbeats(self, cp: Adapter) -> None:
        while True:
            await trio.sleep(self.heartbeat_interval())  # re-read: ChangeConfiguration
            await cp.heartbeat()

    async def _drive(self, cp: Adapter, connector: Connector) -> None:
        """A connector's life while connected: drivers arrive, transactions run, commands act."""
        state = self.state
        while True:
            if connector.reported != connector.status:
                connector.reported = connector.status
                await cp.send_status(connector)
                continue
            now = trio.current_time()
            transaction = connector.transaction
            if transaction is None:
                deadline = await self._idle(cp, connector, now)
            elif connector.stop_reason is not None or now >= transaction.ends:
                await self._stop(cp, connector, transaction, connector.stop_reason or "Local")
                continue
            elif now >= transaction.next_meter:
                transaction.next_meter = now + state.setting("MeterValueSampleInterval")
                await cp.meter(connector, transaction, now)
                continue
            else:
                deadline = min(transaction.ends, transaction.next_meter)
            if deadline is None:
                continue
            with trio.move_on_at(deadline):
                await connector.changed.wait()
            connector.changed = trio.Event()

    async def _idle(self, cp: Adapter, connector: Connector, now: float) -> float | None:
        """An idle connector: start a transaction if one is due (None: look again), else the
        time to wake up."""
        remote, connector.remote_start = connector.remote_start, None
        if not connector.operative or self.state.rebooting:
            return math.inf
        if remote is not None:
            await self._start(cp, connector, remote.id_tag, remote.remote_start_id, now)
            return None
        if now >= connector.next_start:
            connector.next_start = now + self.behaviour.idle(self.rng)
            id_tag = f"TAG{self.rng.randrange(10_000):04d}"
            if await cp.authorize(id_tag):
                await self._start(cp, connector, id_tag, None, now)
            return None
        return connector.next_start

    async def _start(
        self,
        cp: Adapter,
        connector: Connector,
        id_tag: str,
        remote_start_id: int | None,
        now: float,
    ) -> None:
        duration, power = self.behaviour.transaction(self.rng)
        transaction = Transaction(
            id=self.state.next_transaction_id(self.identity),
            id_tag=id_tag,
            power_w=power,
            started=now,
            ends=now + duration,
            start_wh=connector.register_wh,
            remote_start_id=remote_start_id,
        )
        transaction.next_meter = now + self.state.setting("MeterValueSampleInterval")
        connector.transaction, connector.stop_reason = transaction, None
        self.stats.transactions += 1
        self.stats.transactions_running += 1
        accepted = await cp.start_transaction(connector, transaction)
        if accepted is None:  # no answer: as if it never started (1.6: it has no id)
            self._end(connector, transaction, now)
            self.state.reboot_if_idle()
        elif not accepted:
            connector.stop_reason = "DeAuthorized"

    async def _stop(
        self, cp: Adapter, connector: Connector, transaction: Transaction, reason: str
    ) -> None:
        # The state changes first: a stop that the connection's end cuts short still stops.
        now = trio.current_time()
        self._end(connector, transaction, now)
        try:
            await cp.stop_transaction(connector, transaction, reason, now)
        finally:
            self.state.reboot_if_idle()  # a Reset waiting for this stop: now that it went out

    def _end(self, connector: Connector, transaction: Transaction, now: float) -> None:
        connector.register_wh = transaction.register_at(now)
        connector.transaction, connector.stop_reason = None, None
        connector.next_start = max(connector.next_start, now + self.behaviour.idle(self.rng))
        self.stats.transactions_running -= 1
        if connector.scheduled_operative is not None:
            connector.operative, connector.scheduled_operative = connector.scheduled_operative, None


class SimulatedChargePoint16(SimulatedChargePoint):
    """A simulated OCPP 1.6 charge point."""

    adapter = ChargePoint16


class SimulatedChargePoint201(SimulatedChargePoint):
    """A simulated OCPP 2.0.1 charging station."""

    adapter = ChargePoint201


class SimulatedChargePoint21(SimulatedChargePoint):
    """A simulated OCPP 2.1 charging station."""

    adapter = ChargePoint21


#: The classes by version.
CLASSES: dict[str, type[SimulatedChargePoint]] = {
    "1.6": SimulatedChargePoint16,
    "2.0.1": SimulatedChargePoint201,
    "2.1": SimulatedChargePoint21,
}

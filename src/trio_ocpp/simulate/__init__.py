"""Simulated charge points: one from Python, or a fleet from ``python -m trio_ocpp.simulate``.

A :class:`SimulatedChargePoint16` (``SimulatedChargePoint201``, ``SimulatedChargePoint21``)
boots, heartbeats, runs transactions with meter values as its :class:`Behaviour` says and
answers the central system's commands by changing its state; a :class:`FleetStats` observer
counts what a fleet of them did.
"""

from ._behaviour import Behaviour as Behaviour
from ._state import Connector as Connector
from ._state import Transaction as Transaction
from ._station import SimulatedChargePoint as SimulatedChargePoint
from ._station import SimulatedChargePoint16 as SimulatedChargePoint16
from ._station import SimulatedChargePoint21 as SimulatedChargePoint21
from ._station import SimulatedChargePoint201 as SimulatedChargePoint201
from ._stats import FleetStats as FleetStats

__all__ = [
    "Behaviour",
    "Connector",
    "FleetStats",
    "SimulatedChargePoint",
    "SimulatedChargePoint16",
    "SimulatedChargePoint21",
    "SimulatedChargePoint201",
    "Transaction",
]

"""Simulated charge points: one from Python, or a fleet from ``python -m trio_ocpp.simulate``.

A :class:`SimulatedChargePoint16` (``SimulatedChargePoint201``, ``SimulatedChargePoint21``)
boots, heartbeats, runs transactions with meter values as its :class:`Behaviour` says and
answers the central system's commands by changing its state; a :class:`FleetStats` observer
counts what a fleet of them did.
"""

from .behaviour import Behaviour as Behaviour
from .state import Connector as Connector
from .state import Transaction as Transaction
from .station import SimulatedChargePoint as SimulatedChargePoint
from .station import SimulatedChargePoint16 as SimulatedChargePoint16
from .station import SimulatedChargePoint21 as SimulatedChargePoint21
from .station import SimulatedChargePoint201 as SimulatedChargePoint201
from .stats import FleetStats as FleetStats

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

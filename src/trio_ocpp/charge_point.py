"""The connection runtime shared by every version, and the ``ocpp`` package's casing helpers.

Subclass the ChargePoint of a version (``trio_ocpp.v16.ChargePoint``); this module holds their
common base, for type hints and ``isinstance`` checks.
"""

from ._casing import camel_to_snake_case as camel_to_snake_case
from ._casing import snake_to_camel_case as snake_to_camel_case
from ._charge_point import ChargePoint as ChargePoint
from ._charge_point import Connection as Connection
from ._charge_point import ConnectionStatistics as ConnectionStatistics

__all__ = [
    "ChargePoint",
    "Connection",
    "ConnectionStatistics",
    "camel_to_snake_case",
    "snake_to_camel_case",
]

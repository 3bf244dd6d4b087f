"""The connection runtime shared by every version, and the ``ocpp`` package's helpers.

Subclass the ChargePoint of a version (``trio_ocpp.v16.ChargePoint``); this module holds their
common base, for type hints and ``isinstance`` checks. ``LOGGER`` is the logger a ChargePoint
logs through unless given ``logger=`` (``trio_ocpp.charge_point``; the ocpp package's is
``ocpp``).
"""

from ._core.casing import camel_to_snake_case as camel_to_snake_case
from ._core.casing import snake_to_camel_case as snake_to_camel_case
from ._core.ocpp_helpers import remove_nones as remove_nones
from ._core.ocpp_helpers import serialize_as_dict as serialize_as_dict
from ._runtime.charge_point import ChargePoint as ChargePoint
from ._runtime.charge_point import Connection as Connection
from ._runtime.charge_point import ConnectionStatistics as ConnectionStatistics
from ._runtime.charge_point import logger as LOGGER

__all__ = [
    "LOGGER",
    "ChargePoint",
    "Connection",
    "ConnectionStatistics",
    "camel_to_snake_case",
    "remove_nones",
    "serialize_as_dict",
    "snake_to_camel_case",
]

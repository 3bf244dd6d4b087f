"""The connection runtime shared by every version, and the ``ocpp`` package's helpers.

Subclass the ChargePoint of a version (``trio_ocpp.v16.ChargePoint``); this module holds their
common base, for type hints and ``isinstance`` checks. ``LOGGER`` is the logger a ChargePoint
logs through unless given ``logger=`` (``trio_ocpp.charge_point``; the ocpp package's is
``ocpp``).
"""

from ._casing import camel_to_snake_case as camel_to_snake_case
from ._casing import snake_to_camel_case as snake_to_camel_case
from ._charge_point import ChargePoint as ChargePoint
from ._charge_point import Connection as Connection
from ._charge_point import ConnectionStatistics as ConnectionStatistics
from ._charge_point import logger as LOGGER
from ._ocpp_helpers import remove_nones as remove_nones
from ._ocpp_helpers import serialize_as_dict as serialize_as_dict

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

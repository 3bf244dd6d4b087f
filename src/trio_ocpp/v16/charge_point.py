"""The OCPP 1.6 ChargePoint: subclass it and mark handlers with ``@on`` / ``@after``."""

from typing import ClassVar

from .._core.versions import OCPPVersion
from .._runtime.charge_point import ChargePoint as _ChargePoint

__all__ = ["ChargePoint"]


class ChargePoint(_ChargePoint):
    """One OCPP 1.6 connection (either side)."""

    _ocpp_version: ClassVar[OCPPVersion] = "1.6"

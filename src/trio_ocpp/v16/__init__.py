"""OCPP 1.6: its ChargePoint, the messages (``call``, ``call_result``),
their object types and enums."""

from . import call, call_result, datatypes, enums
from .charge_point import ChargePoint as ChargePoint

__all__ = ["ChargePoint", "call", "call_result", "datatypes", "enums"]

"""Helper functions of the ``ocpp`` package's API that ported code calls, with their meaning
there: ``remove_nones`` and ``serialize_as_dict`` (``trio_ocpp.charge_point``) and
``get_validator`` (``trio_ocpp.messages``). trio-ocpp itself does not need them: payload objects
convert themselves (``to_wire()``), and the runtime keeps compiled validators per connection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, overload

from .payload import Record
from .schemas import KIND_OF_MESSAGE_TYPE
from .validation import FormatPolicy, SchemaValidator, compile_validator

__all__ = ["get_validator", "remove_nones", "serialize_as_dict"]


@overload
def remove_nones(data: dict[str, Any]) -> dict[str, Any]: ...
@overload
def remove_nones(data: list[Any]) -> list[Any]: ...
def remove_nones(data: dict[str, Any] | list[Any]) -> dict[str, Any] | list[Any]:
    """``data`` without None: dict values and list items that are None are left out, at every
    depth. (Sending needs none of this: ``payload_to_wire`` drops None from payloads.)"""
    if isinstance(data, dict):
        return {key: _without_nones(value) for key, value in data.items() if value is not None}
    return [_without_nones(item) for item in data if item is not None]


def _without_nones(value: Any) -> Any:
    return remove_nones(value) if isinstance(value, dict | list) else value


def serialize_as_dict(payload: Record) -> dict[str, Any]:
    """A payload or datatypes object as a dict by python (snake_case) name, nested objects as
    dicts too; None values and enum members are kept, as they are in the object.

    An object that keeps vendor keys (``CustomDataType``) has them under ``extra``.
    """
    return dataclasses.asdict(payload)


def get_validator(
    message_type_id: int,
    action: str,
    ocpp_version: str,
    parse_float: Callable[[str], Any] = float,
) -> SchemaValidator:
    """The schema validator of one message, with the ``ocpp`` package's arguments: a jsonschema
    validator (``validate``, ``is_valid``, ``iter_errors``) built once, with formats unchecked as
    there. ``message_type_id``: 2 (CALL), 3 (CALLRESULT) or 6 (2.1 SEND).

    ``parse_float`` is accepted for compatibility and not needed: ``multipleOf`` is checked with
    decimal arithmetic whatever type the numbers have. Raises ValueError for another message
    type and :class:`trio_ocpp.exceptions.NotImplementedError` for an action the version lacks.
    """
    kind = KIND_OF_MESSAGE_TYPE.get(message_type_id)
    if kind is None:
        raise ValueError(f"message type {message_type_id} has no payload schema")
    return compile_validator(ocpp_version, action, kind, FormatPolicy.OFF, engine="jsonschema")

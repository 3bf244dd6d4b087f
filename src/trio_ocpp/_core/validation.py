"""Payload validation against the bundled schemas (sans-I/O: no trio, no threads): the functions
the runtime and the public ``trio_ocpp.messages`` call.

One compiled validator exists per (version, action, kind, format policy, engine); it is built on
first use and kept (:mod:`.engines`, which also says how jsonschema-rs and jsonschema share the
work). Draft-04 schemas (most of 1.6) and draft-06 ones (1.6 security, 2.x) each get jsonschema's
validator for their draft, with one change: ``multipleOf`` compares in decimal, so that 21.4 is a
multiple of 0.1 (binary floating point says it is not) while 4.11 is not (:mod:`.schema_dialect`).

Format policy (the ``format`` keyword: ``date-time`` and, in 1.6, ``uri``):

- What trio-ocpp *sends* is always checked :attr:`FormatPolicy.STRICT`: RFC 3339 timestamps with a
  ``Z`` or a zone offset, absolute URIs with a scheme.
- What it *receives* is checked with a configurable policy. The default is
  :attr:`FormatPolicy.LENIENT`, because real charge points send ISO 8601 timestamps without a zone;
  LENIENT accepts those (and a fraction of a second, and offsets such as ``+0100``) and checks URIs
  as STRICT does. :attr:`FormatPolicy.OFF` checks no format at all.

A payload that fails raises one OCPP error: the first one met from the root down
(:mod:`.first_error`), as the class its keyword maps to, with a short description
(:mod:`.schema_errors`).
"""

from __future__ import annotations

from typing import Any, Protocol

from . import errors
from .engines import ENGINES, compile_validator, set_validation_engine, validation_engine
from .first_error import SchemaValidator
from .schema_dialect import FormatPolicy
from .schema_errors import schema_error
from .schemas import KIND_OF_MESSAGE_TYPE, MessageKind, MessageKindLike

__all__ = [
    "ENGINES",
    "FormatPolicy",
    "SchemaValidator",
    "check",
    "compile_validator",
    "set_validation_engine",
    "validate",
    "validate_payload",
    "validation_engine",
]


class _Message(Protocol):
    """What :func:`validate_payload` needs of a frame (Call, CallResult or Send)."""

    @property
    def message_type_id(self) -> int: ...

    @property
    def action(self) -> str | None: ...

    @property
    def payload(self) -> Any: ...


def validate(
    version: str,
    action: str,
    kind: MessageKindLike,
    payload: object,
    *,
    formats: FormatPolicy = FormatPolicy.LENIENT,
) -> None:
    """Check ``payload`` against the schema of ``action``; raise the OCPP error if it fails.

    ``kind`` is a :class:`~trio_ocpp.messages.MessageKind` or its value (``"request"``,
    ``"response"``, ``"send"``). The error is the 2.x class; the caller spells its code for the
    connection with ``code_for``.
    """
    if not isinstance(kind, MessageKind):
        kind = MessageKind(kind)  # once, here: the runtime calls check() with members
    check(compile_validator(version, action, kind, formats), action, kind, payload)


def check(validator: SchemaValidator, action: str, kind: MessageKind, payload: object) -> None:
    """:func:`validate` with the validator already looked up (the runtime keeps them)."""
    error = validator.first_error(payload)
    if error is not None:
        raise schema_error(error, action, kind)


def validate_payload(
    message: _Message, ocpp_version: str, *, formats: FormatPolicy = FormatPolicy.LENIENT
) -> None:
    """Validate the payload of a Call, CallResult or Send (the ``ocpp`` package's function).

    Raises :class:`~trio_ocpp.exceptions.ValidationError` (a ValueError) for a message that has
    no schema: another message type, or a CallResult that does not know the action it answers.
    """
    kind = KIND_OF_MESSAGE_TYPE.get(message.message_type_id)
    if kind is None:
        raise errors.ValidationError(
            f"message type {message.message_type_id} carries no payload to validate"
        )
    if message.action is None:
        raise errors.ValidationError("a CallResult whose action is unknown cannot be validated")
    validate(ocpp_version, message.action, kind, message.payload, formats=formats)

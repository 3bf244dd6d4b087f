"""Checking a payload with both verdicts of the engine in use."""

from __future__ import annotations

from trio_ocpp._core.validation import SchemaValidator


def verdict(validator: SchemaValidator, payload: object) -> bool:
    """``validator.is_valid(payload)``, asserting that jsonschema-rs alone, when it is in use,
    says the same: jsonschema deciding whatever it rejects would hide its mistakes."""
    valid = validator.is_valid(payload)
    compiled = getattr(validator, "fast", None)
    if compiled is not None:
        assert compiled.is_valid(payload) is valid, payload
    return valid

"""Validation alone: µs per payload with each engine, through ``validate()`` as the runtime uses
it (the request checked LENIENT, as received payloads are)."""

from __future__ import annotations

import functools
from typing import Any

from trio_ocpp._schemas import MessageKind
from trio_ocpp._validation import ENGINES, set_validation_engine, validate

from . import timing
from .messages import MESSAGES


def run() -> list[dict[str, Any]]:
    """One row per message: seconds per payload with each engine installed here."""
    rows = []
    for message in MESSAGES:
        row: dict[str, Any] = {"message": message.name}
        for engine in ENGINES:
            try:
                set_validation_engine(engine)
            except ImportError:
                continue
            row[f"{engine}_s"] = timing.per_operation(
                functools.partial(
                    validate, message.version, message.action, MessageKind.REQUEST, message.request
                )
            )
        set_validation_engine(None)
        if "jsonschema-rs_s" in row:
            row["speedup"] = row["jsonschema_s"] / row["jsonschema-rs_s"]
        rows.append(row)
    return rows

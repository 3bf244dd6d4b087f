"""Validation alone: µs per payload with each engine, through ``validate()`` as the runtime uses
it (the request checked LENIENT, as received payloads are)."""

from __future__ import annotations

import functools
from typing import Any

from trio_ocpp._core.schemas import MessageKind
from trio_ocpp._core.validation import ENGINES, set_validation_engine, validate

from . import timing
from .messages import MESSAGES, Message


def _installed() -> list[str]:
    engines = []
    for engine in ENGINES:
        try:
            set_validation_engine(engine)
        except ImportError:
            continue
        engines.append(engine)
    set_validation_engine(None)
    return engines


def _per_payload(engine: str, message: Message) -> float:
    set_validation_engine(engine)
    try:
        return timing.per_operation(
            functools.partial(
                validate, message.version, message.action, MessageKind.REQUEST, message.request
            )
        )
    finally:
        set_validation_engine(None)


def run() -> list[dict[str, Any]]:
    """One row per message: seconds per payload with each engine installed here."""
    rows = []
    engines = _installed()
    for message in MESSAGES:
        measures = {f"{e}_s": functools.partial(_per_payload, e, message) for e in engines}
        row: dict[str, Any] = {"message": message.name, **timing.fastest_in_turns(measures)}
        if "jsonschema-rs_s" in row:
            row["speedup"] = row["jsonschema_s"] / row["jsonschema-rs_s"]
        rows.append(row)
    return rows

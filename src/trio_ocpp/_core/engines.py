"""Which engine validates payloads, and one compiled validator per schema, policy and engine.

Two engines check payloads. jsonschema is the reference: it always decides what is invalid and
why. jsonschema-rs, a compiled validator installed by default, answers the yes/no question some
50 to 500 times faster; a payload it accepts is valid, and anything it rejects or cannot read
(a lone surrogate, a value that is not JSON) goes to jsonschema, which has the last word and
names the error. So verdicts and errors are jsonschema's for any JSON payload, and jsonschema-rs
only makes the valid ones cheap. It is given the same format checks (they are python callables);
its ``multipleOf`` compares decimals as we do (the equivalence tests hold it to that). Python
values that are not JSON are the one gap: jsonschema-rs reads a tuple as an array and a Decimal
as a number, which jsonschema rejects; neither can come from a received frame, and neither can be
sent. Without jsonschema-rs, or with ``TRIO_OCPP_VALIDATOR=jsonschema`` in the environment, or
:func:`set_validation_engine`, jsonschema does all the work.

A validator is built on first use and kept for the life of the process, so validating a message
costs one cache look-up and one pass over the payload.
"""

from __future__ import annotations

import functools
import os
from typing import Final

from . import errors
from .first_error import HAS_JSONSCHEMA_RS, CompiledValidator, ReferenceValidator, SchemaValidator
from .schema_dialect import (
    FORMAT_CHECKERS,
    FORMAT_PATTERNS,
    FormatPolicy,
    show,
    validator_class_for,
)
from .schema_prep import prepare
from .schemas import MessageKind, has_schema, load_schema
from .versions import OCPPVersion, normalize_version

__all__ = ["ENGINES", "compile_validator", "set_validation_engine", "validation_engine"]

#: The validation engines, fastest first: the default is the first one that can be imported.
ENGINES: Final = ("jsonschema-rs", "jsonschema")
_ENGINE_VARIABLE: Final = "TRIO_OCPP_VALIDATOR"


def _available(engine: str) -> bool:
    return engine == "jsonschema" or HAS_JSONSCHEMA_RS


_engine: str


def set_validation_engine(engine: str | None) -> None:
    """Validate with ``"jsonschema-rs"`` or ``"jsonschema"``; None restores the default.

    Raises ValueError for another name and ImportError when jsonschema-rs is asked for and is
    not installed. Errors are the same with either engine (see the module docstring). A
    ChargePoint keeps the engine that was in use when it was made.
    """
    global _engine
    if engine is None:
        engine = next(e for e in ENGINES if _available(e))
    elif engine not in ENGINES:
        raise ValueError(f"unknown validation engine {engine!r}; expected one of {ENGINES}")
    elif not _available(engine):
        raise ImportError(f"the {engine} validation engine is not installed")
    _engine = engine


set_validation_engine(os.environ.get(_ENGINE_VARIABLE) or None)


def validation_engine() -> str:
    """The engine in use: ``"jsonschema-rs"`` or ``"jsonschema"``."""
    return _engine


@functools.cache
def _compiled(
    version: OCPPVersion, action: str, kind: MessageKind, formats: FormatPolicy, engine: str
) -> SchemaValidator:
    # Raising here caches nothing, so unknown action names cannot grow the cache.
    if not has_schema(version, action, kind):
        raise errors.NotImplementedError(
            f"{show(action)} is not a known OCPP {version} action ({kind.value})"
        )
    schema = load_schema(version, action, kind)
    prepared = prepare(schema)
    reference = validator_class_for(prepared)(prepared, format_checker=FORMAT_CHECKERS[formats])
    if engine == "jsonschema":
        return ReferenceValidator(reference)
    return CompiledValidator(reference, schema, FORMAT_PATTERNS[formats])


def compile_validator(
    version: str,
    action: str,
    kind: MessageKind,
    formats: FormatPolicy = FormatPolicy.LENIENT,
    engine: str | None = None,
) -> SchemaValidator:
    """The compiled validator of one schema for ``engine``, by default the one in use (built
    once, then the same object on every call).

    Raises :class:`trio_ocpp.exceptions.NotImplementedError` when ``version`` has no such action.
    """
    return _compiled(normalize_version(version), action, kind, formats, engine or _engine)

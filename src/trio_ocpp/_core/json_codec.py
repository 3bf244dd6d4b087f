"""JSON text of frames: orjson when it is installed, the standard library otherwise.

orjson parses a frame about five times and writes one about eight times as fast as ``json``
(``python -m benchmarks``: routing). Whatever orjson declines, the standard library decides, so
that both give the same results: NaN and Infinity (refused either way), texts that are not
UTF-8, lone surrogates, keys that are not strings, nesting deeper than orjson's 1024 levels.
Two differences remain, within what RFC 8259 section 6 allows: orjson reads an integer outside the
64-bit range as a float, and it reads up to 1024 levels where json may stop a little earlier (at
the recursion limit); frames nested deeper than a few dozen levels are refused after parsing
anyway (``_frames.MAX_NESTING``).

What is written is always valid UTF-8: a string holding a lone surrogate (read from a peer's
``"\\ud800"`` and echoed back, as an id or in a handler's answer) makes the whole text written
with ``\\u`` escapes, which reads back as the same value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

__all__ = ["ENGINE", "dumps", "loads", "std_dumps", "std_loads"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # A number past the double range would be read as infinity, which no JSON text can hold:
    # echoed back, it could not be written (orjson refuses such a number too).
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


# Made once: json.dumps / json.loads with options build a new encoder or decoder on each call.
# Compact and strict: NaN/Infinity are not JSON, so they fail here rather than on the peer.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_decode = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float).decode


def std_dumps(value: Any) -> str:
    """Compact JSON text that is always valid UTF-8 (see :func:`_utf8`)."""
    return _utf8(_encode(value), value)


def _utf8(text: str, value: Any) -> str:
    # A lone surrogate (a peer's JSON-escaped one, echoed back) cannot be written as UTF-8: such
    # a text is written with escapes instead, so that what goes out is always sendable.
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return _encode_ascii(value)
    return text


def std_loads(text: str | bytes) -> Any:
    """``json.loads``, refusing NaN and Infinity; bytes in any encoding json detects."""
    if isinstance(text, str):
        return _decode(text)
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


dumps: Callable[[Any], str] = std_dumps
loads: Callable[[str | bytes], Any] = std_loads
ENGINE = "json"

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; a platform may lack its wheel
    pass
else:
    # datetime and dataclass objects are not JSON types for json: let it refuse them as before.
    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def _orjson_dumps(value: Any) -> str:
        try:
            text = orjson.dumps(value, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: non-str keys, big ints, other types
            return std_dumps(value)
        if b"null" in text:
            # orjson writes NaN and Infinity as null, which json refuses; payloads rarely hold a
            # real null (OCPP 2.x forbids it), so json looking again costs nearly nothing.
            return std_dumps(value)
        return text.decode()

    def _orjson_loads(text: str | bytes) -> Any:
        if not isinstance(text, str):
            return std_loads(text)  # bytes (rare: frames are text), in any encoding json detects
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            # NaN, Infinity, lone surrogates, too deep: json's say
            return std_loads(text)

    dumps, loads, ENGINE = _orjson_dumps, _orjson_loads, "orjson"

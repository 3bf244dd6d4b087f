"""The JSON of frames: orjson gives what the standard library gives, or defers to it."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ocpp._core import json_codec as _json

pytest.importorskip("orjson")
assert _json.ENGINE == "orjson"  # the dependency is installed: the fast path is the one in use


def same(a: Any, b: Any) -> bool:
    """Equal, with equal types all the way down (1 is not 1.0, -0.0 is not 0.0), keys in order.

    Without recursion: some texts nest hundreds deep."""
    pairs = [(a, b)]
    while pairs:
        x, y = pairs.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            pairs += [(x[k], y[k]) for k in x]
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pairs += zip(x, y, strict=True)
        elif repr(x) != repr(y):  # floats: -0.0 and 0.0 differ
            return False
    return True


def parsed(loads: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", loads(text)
    except (ValueError, RecursionError):  # as unpack() catches: json's and orjson's errors
        return "error", None


TEXTS = [
    "-0", "-0.0", "1E2", "1e-400", "1e400", "0.1", "5e-324", "1.7976931348623157e308",
    "0.30000000000000004", "1.00000000000000011102230246251565404236316680908203125",
    "9007199254740993", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
    '{"a":1,"a":2}', '"\\u0000"', '"\\ud800"', '"\\ud83d\\ude00"', '"\x01"', " [1] ", "[1,]",
    "NaN", "[Infinity]", "-Infinity", "[2,\"1\",\"Heartbeat\",{}]", '"\u2028"', "", "[", "nul",
    "[" * 2000 + "]" * 2000, "[" * 400 + "]" * 400, "[" * 499 + '"' + "x" * 1000 + '"' + "]" * 499,
    b'\xef\xbb\xbf[1]', '[1]'.encode("utf-16"), b"[\xff]", b'["\xc3\xa9"]',
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: repr(text)[:24])
def test_loads_agrees_with_the_standard_library(text: str | bytes) -> None:
    ours, std = parsed(_json.loads, text), parsed(_json.std_loads, text)
    assert ours[0] == std[0] and same(ours[1], std[1])


def test_nan_and_infinity_are_refused() -> None:
    for text in ("NaN", "[Infinity]", '{"v":-Infinity}'):
        with pytest.raises(ValueError, match="not valid JSON"):
            _json.loads(text)


def test_numbers_past_the_double_range_are_refused() -> None:
    # Read as infinity they could not be written back (a handler echoing them, an error).
    for text in ("[1.797693134862317e+308]", '{"v":-1e400}'):
        for loads in (_json.loads, _json.std_loads):
            with pytest.raises(ValueError, match="out of range"):
                loads(text)
    assert _json.loads("[1.7976931348623157e+308]") == [1.7976931348623157e308]  # the largest


def test_integers_beyond_64_bits_are_read_as_floats() -> None:
    # The one difference from json, within what RFC 8259 section 6 allows.
    assert _json.loads("[18446744073709551616]") == [float(2**64)]
    assert _json.std_loads("[18446744073709551616]") == [2**64]


# Values as peers send them: 64-bit integers (see above), any floats but NaN and infinities.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


@given(value=values, ascii_only=st.booleans(), spaced=st.booleans())
def test_loads_of_any_json_text(value: Any, ascii_only: bool, spaced: bool) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    text = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
    assert same(_json.loads(text), _json.std_loads(text))
    assert same(_json.loads(text.encode()), _json.std_loads(text))


@given(value=values)
def test_dumps_writes_what_json_reads_back_the_same(value: Any) -> None:
    text = _json.dumps(value)
    assert same(json.loads(text), json.loads(_json.std_dumps(value)))


@pytest.mark.parametrize("dumps", [_json.dumps, _json.std_dumps])
def test_what_is_written_is_utf8_even_with_a_lone_surrogate_inside(dumps: Any) -> None:
    value = [2, "\ud800", "Zürich", {"k\udfff": "\ud83d"}]
    text = dumps(value)
    text.encode()
    assert same(json.loads(text), value)
    assert dumps(["Zürich"]) == '["Zürich"]'  # without one, UTF-8 as it is


class Status(enum.StrEnum):
    accepted = "Accepted"


class Level(enum.IntEnum):
    two = 2


@pytest.mark.parametrize(
    "value",
    [
        {"status": Status.accepted, "level": Level.two},
        {1: "int key", 2.5: "float key", None: "none key"},
        {"big": 2**70, "small": -(2**70)},
        {"vendorId": "nullable", "data": None},
        {"text": 'Zürich ⚡ \u2028 \x7f \x01 "quoted" back\\slash'},
        [1.5, 1e16, 1e-05, -0.0],
    ],
    ids=["enums", "non-str keys", "big ints", "null", "unicode", "floats"],
)
def test_dumps_gives_the_standard_librarys_json(value: Any) -> None:
    assert same(json.loads(_json.dumps(value)), json.loads(_json.std_dumps(value)))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_dumps_refuses_nan_and_infinity_like_json(bad: float) -> None:
    for dumps in (_json.dumps, _json.std_dumps):
        with pytest.raises(ValueError):
            dumps({"limit": bad})


def test_dumps_refuses_what_json_cannot_write() -> None:
    for value in (datetime.datetime(2024, 1, 1), object()):
        for dumps in (_json.dumps, _json.std_dumps):
            with pytest.raises(TypeError):
                dumps({"v": value})


def test_dumps_is_compact_and_utf8() -> None:
    value = {"a": [1, {"b": "é"}], "c": "⚡"}
    assert _json.dumps(value) == '{"a":[1,{"b":"é"}],"c":"⚡"}' == _json.std_dumps(value)

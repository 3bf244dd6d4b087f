"""The two validation engines: the switch, the fallback without jsonschema-rs, and agreement where
the equivalence corpus does not reach: any float against a decimal ``multipleOf``, any
timestamp-like text under each format policy, and values jsonschema-rs cannot read.
"""

from __future__ import annotations

import calendar
import importlib.util
import os
import subprocess
import sys
from typing import Any

import pytest
from helpers.schema_payloads import charging_profile_16
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ocpp import exceptions
from trio_ocpp._core.schema_dialect import is_multiple_of
from trio_ocpp._core.schemas import MessageKind
from trio_ocpp._core.validation import (
    ENGINES,
    FormatPolicy,
    compile_validator,
    set_validation_engine,
    validate,
    validation_engine,
)

REQUEST = MessageKind.REQUEST
needs_jsonschema_rs = pytest.mark.skipif(
    importlib.util.find_spec("jsonschema_rs") is None, reason="jsonschema-rs is not installed"
)


def python(code: str, engine: str | None = None, *, without_rs: bool = False) -> str:
    """Run ``code`` in a fresh interpreter; its stdout, or its last stderr line if it failed."""
    env = {k: v for k, v in os.environ.items() if k != "TRIO_OCPP_VALIDATOR"}
    if engine is not None:
        env["TRIO_OCPP_VALIDATOR"] = engine
    if without_rs:
        code = "import sys; sys.modules['jsonschema_rs'] = None\n" + code  # import fails
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip() if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


SHOW_ENGINE = "from trio_ocpp.messages import validation_engine; print(validation_engine())"


# --- the switch -----------------------------------------------------------------------------------


def test_jsonschema_rs_is_the_default() -> None:
    assert python(SHOW_ENGINE) == "jsonschema-rs"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_environment_variable_picks_the_engine(engine: str) -> None:
    assert python(SHOW_ENGINE, engine) == engine


def test_an_unknown_engine_in_the_environment_fails_loudly() -> None:
    assert python(SHOW_ENGINE, "fastjsonschema").startswith(
        "ValueError: unknown validation engine 'fastjsonschema'"
    )


def test_without_jsonschema_rs_jsonschema_does_the_work() -> None:
    code = f"""{SHOW_ENGINE}
from trio_ocpp.messages import set_validation_engine, validate
from trio_ocpp._core.schemas import MessageKind
from trio_ocpp import exceptions
try:
    validate("1.6", "BootNotification", MessageKind.REQUEST, {{"chargePointModel": "M"}})
except exceptions.OccurrenceConstraintViolationError as error:
    print(error.description)
try:
    set_validation_engine("jsonschema-rs")
except ImportError as error:
    print(error)
"""
    assert python(code, without_rs=True).splitlines() == [
        "jsonschema",
        "BootNotification request: chargePointVendor: required property is missing",
        "the jsonschema-rs validation engine is not installed",
    ]


def test_forcing_a_missing_jsonschema_rs_fails_loudly() -> None:
    assert python(SHOW_ENGINE, "jsonschema-rs", without_rs=True) == (
        "ImportError: the jsonschema-rs validation engine is not installed"
    )


def test_set_validation_engine() -> None:
    try:
        for engine in ENGINES:
            set_validation_engine(engine)
            assert validation_engine() == engine
            validator = compile_validator("1.6", "Heartbeat", REQUEST)
            assert hasattr(validator, "fast") is (engine == "jsonschema-rs")
        with pytest.raises(ValueError, match="unknown validation engine"):
            set_validation_engine("JSONSchema")
    finally:
        set_validation_engine(None)
    assert validation_engine() == ENGINES[0]


# --- agreement beyond the corpus ------------------------------------------------------------------


def verdicts(action: str, formats: FormatPolicy, payload: Any) -> tuple[bool, bool]:
    """jsonschema-rs's verdict and jsonschema's, on a 1.6 request."""
    compiled: Any = compile_validator("1.6", action, REQUEST, formats, "jsonschema-rs")
    return compiled.fast.is_valid(payload), compiled.reference.is_valid(payload)


numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    # What charge points and people write: a few decimals, from tiny to huge.
    st.builds(lambda n, places: n / 10**places, st.integers(-(10**12), 10**12), st.integers(0, 5)),
    st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(0, 10**17), st.integers(-30, 30)),
)


@needs_jsonschema_rs
@settings(max_examples=1000, deadline=None)
@given(numbers)
def test_multiple_of_a_tenth_in_decimal_with_both_engines(limit: float) -> None:
    fast, reference = verdicts("SetChargingProfile", FormatPolicy.OFF, charging_profile_16(limit))
    assert fast is reference is is_multiple_of(limit, 0.1)


two_digits = st.integers(0, 99).map("{:02d}".format)
timestamps = st.one_of(
    st.builds(
        "{}-{}-{}{}{}:{}:{}{}{}".format,
        st.integers(0, 9999).map("{:04d}".format),
        two_digits,
        two_digits,
        st.sampled_from("Tt "),
        two_digits,
        two_digits,
        two_digits,
        st.sampled_from(["", ".5", ".123456789", "."]),
        st.sampled_from(
            ["", "Z", "z", "+02:00", "-05:30", "+0200", "+02", "+24:00", "-01:60", " "]
        ),
    ),
    st.text(max_size=30),
)


@needs_jsonschema_rs
@settings(max_examples=1000, deadline=None)
@given(timestamps)
def test_date_time_per_policy_with_both_engines(timestamp: str) -> None:
    payload = {"location": "ftp://example.com/fw.bin", "retrieveDate": timestamp}
    for formats in FormatPolicy:
        fast, reference = verdicts("UpdateFirmware", formats, payload)
        assert fast is reference, formats


@needs_jsonschema_rs
@pytest.mark.parametrize("year", [0, 4, 100, 400, 1900, 2000, 2023, 2024, 2100, 9996])
def test_29_february_in_leap_years_only_with_both_engines(year: int) -> None:
    payload = {"location": "ftp://x", "retrieveDate": f"{year:04d}-02-29T00:00:00Z"}
    for formats in (FormatPolicy.STRICT, FormatPolicy.LENIENT):
        fast, reference = verdicts("UpdateFirmware", formats, payload)
        assert fast is reference is calendar.isleap(year)


uris = st.builds(
    "{}{}".format,
    st.sampled_from(["", "http://", "urn:", "1a:", "ftp://user@host:21/", "x+y-z.w:"]),
    st.text(alphabet="aZ09-._~:/?#[]@!$&'()*+,;=% é\n", max_size=20),
)


@needs_jsonschema_rs
@settings(max_examples=1000, deadline=None)
@given(uris)
def test_uri_per_policy_with_both_engines(uri: str) -> None:
    for formats in FormatPolicy:
        fast, reference = verdicts("GetDiagnostics", formats, {"location": uri})
        assert fast is reference, formats


def outcome(engine: str, action: str, payload: Any) -> tuple[type[Exception], str] | None:
    """The error validate() raises for a 1.6 request with ``engine``, or None if it passes."""
    set_validation_engine(engine)
    try:
        validate("1.6", action, REQUEST, payload)
    except exceptions.OCPPError as error:
        return type(error), error.description
    finally:
        set_validation_engine(None)
    return None


@needs_jsonschema_rs
@pytest.mark.parametrize(
    ("action", "payload", "valid"),
    [
        # jsonschema-rs cannot read a lone surrogate (json.loads makes one of "\\ud800").
        ("BootNotification", {"chargePointVendor": "\ud800", "chargePointModel": "M"}, True),
        ("BootNotification", {"chargePointVendor": "\ud800" * 21, "chargePointModel": "M"}, False),
        (
            "BootNotification",
            {"chargePointVendor": "V", "\ud800": 1, "chargePointModel": "M"},
            False,
        ),
        # jsonschema-rs rejects what no JSON text holds; jsonschema decides (json.loads("1e400")).
        ("SetChargingProfile", charging_profile_16(float("inf")), False),
        ("SetChargingProfile", charging_profile_16(float("nan")), False),
        ("Heartbeat", {"x": float("inf")}, False),
        ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": float("inf")}]}, False),
    ],
)
def test_values_jsonschema_rs_cannot_read_get_the_same_answer(
    action: str, payload: Any, valid: bool
) -> None:
    answers = {engine: outcome(engine, action, payload) for engine in ENGINES}
    assert answers["jsonschema-rs"] == answers["jsonschema"]
    assert (answers["jsonschema"] is None) is valid

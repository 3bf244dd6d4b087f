"""Identity rules on the server (CONFORMANCE 2, 3, 38): a pure check with a documented status."""

from __future__ import annotations

import pytest

from trio_ocpp._core.identity import (
    IdentityPolicy,
    IdentityRefusal,
    check_identity,
    identity_from_path,
)

VERSIONS = ["1.6", "2.0.1", "2.1"]


@pytest.mark.parametrize("version", [*VERSIONS, None])
@pytest.mark.parametrize(
    "identity", ["CP_1", "RDAM 123", "RDAM|123", "Zürich-7", "x" * 48, "CP\u00a01", "é" * 48]
)
def test_ordinary_identities_are_accepted(identity: str, version: str | None) -> None:
    assert check_identity(identity, version) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [*VERSIONS, None])
def test_no_identity_is_404(version: str | None) -> None:
    refusal = check_identity("", version)  # type: ignore[arg-type]
    assert refusal is not None and refusal.status == 404


@pytest.mark.parametrize("version", [*VERSIONS, None])
@pytest.mark.parametrize(
    "path",
    ["/ocpp/CP%0AFAKE", "/ocpp/%1B%5B31mCP", "/ocpp/CP%00", "/ocpp/CP%C2%85", "/ocpp/A%E2%80%AEB"],
)
def test_characters_that_are_not_printable_are_400_in_every_version(
    path: str, version: str | None
) -> None:
    refusal = check_identity(identity_from_path(path), version)  # type: ignore[arg-type]
    assert refusal is not None and refusal.status == 400
    assert "printable" in refusal.reason


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
def test_2x_refuses_more_than_48_characters_and_a_colon(version: str) -> None:
    assert check_identity("x" * 49, version) == IdentityRefusal(  # type: ignore[arg-type]
        400, "identity of 49 characters, at most 48"
    )
    refusal = check_identity("CP:1", version)  # type: ignore[arg-type]
    assert refusal is not None and refusal.status == 400
    long = IdentityPolicy(max_length=200)
    assert check_identity("x" * 49, version, long) is not None  # type: ignore[arg-type]


def test_a_15000_character_identity_is_refused_in_every_version() -> None:
    for version in [*VERSIONS, None]:
        refusal = check_identity("x" * 15_000, version)  # type: ignore[arg-type]
        assert refusal is not None and refusal.status == 400


def test_legacy_1_6_identities_pass_with_a_longer_limit_and_may_hold_a_colon() -> None:
    legacy = IdentityPolicy(max_length=120)
    assert check_identity("x" * 49, "1.6") is not None
    assert check_identity("x" * 120, "1.6", legacy) is None
    assert check_identity("x" * 121, "1.6", legacy) is not None
    assert check_identity("site:CP_1", "1.6") is None
    assert check_identity("x\ny", "1.6", legacy) is not None


def test_a_shorter_limit_applies_to_every_version() -> None:
    short = IdentityPolicy(max_length=8)
    for version in VERSIONS:
        assert check_identity("x" * 9, version, short) is not None  # type: ignore[arg-type]
        assert check_identity("x" * 8, version, short) is None  # type: ignore[arg-type]


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IdentityPolicy(max_length=0)

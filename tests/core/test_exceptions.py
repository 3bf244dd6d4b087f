"""CONFORMANCE 16: each version's error codes, their classes, ordinary exception behaviour."""

from __future__ import annotations

import pickle

import pytest

from trio_ocpp import exceptions
from trio_ocpp.exceptions import error_from_code

CODES_16 = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
CODES_2X = {
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
}
ERROR_CLASSES = [
    cls
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, exceptions.OCPPError)
]


def test_one_tree() -> None:
    for cls in ERROR_CLASSES:
        assert issubclass(cls, exceptions.OCPPError)
        assert cls.__name__ in exceptions.__all__


def test_every_class_sends_a_code_of_each_version() -> None:
    assert {cls.code_for("1.6") for cls in ERROR_CLASSES} == CODES_16
    assert {cls.code_for("2.0.1") for cls in ERROR_CLASSES} == CODES_2X
    assert {cls.code_for("2.1") for cls in ERROR_CLASSES} == CODES_2X


@pytest.mark.parametrize("code", sorted(CODES_16 | CODES_2X))
def test_every_code_of_either_spelling_maps_back(code: str) -> None:
    exc = error_from_code(code, "why", {"x": 1})
    assert not isinstance(exc, exceptions.UnknownCallErrorCodeError)
    assert code in {type(exc).code_for("1.6"), type(exc).code_for("2.0.1")}
    assert (exc.description, exc.details) == ("why", {"x": 1})


def test_misspelled_1_6_names_stay_importable_and_related() -> None:
    assert issubclass(exceptions.FormationViolationError, exceptions.FormatViolationError)
    assert issubclass(
        exceptions.OccurenceConstraintViolationError, exceptions.OccurrenceConstraintViolationError
    )
    assert isinstance(error_from_code("FormationViolation"), exceptions.FormationViolationError)
    assert exceptions.FormationViolationError().code_for("2.0.1") == "FormatViolation"
    assert exceptions.FormatViolationError().code_for("1.6") == "FormationViolation"


def test_unknown_code_maps_to_a_defined_error() -> None:
    exc = error_from_code("BrandNewCode", "d")
    assert isinstance(exc, exceptions.UnknownCallErrorCodeError)
    assert isinstance(exc, exceptions.GenericError)
    assert exc.received_code == "BrandNewCode"
    assert exc.code_for("2.0.1") == "GenericError"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_behaves_like_an_ordinary_exception(cls: type[exceptions.OCPPError]) -> None:
    exc = cls("something failed", {"field": "idTag"})
    assert exc.args[:2] == ("something failed", {"field": "idTag"})
    assert repr(exc).startswith(cls.__name__ + "(")
    assert "something failed" in str(exc)
    assert hash(exc) == hash(cls("something failed", {"field": "idTag"}))
    assert exc == cls("something failed", {"field": "idTag"})
    assert exc != cls("other")
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is cls
    assert clone == exc
    assert {exc, clone} == {exc}
    with pytest.raises(cls):
        raise exc


def test_default_description() -> None:
    assert (
        exceptions.NotImplementedError().description == "Requested Action is not known by receiver"
    )
    assert exceptions.GenericError("").description == ""

"""The public surface: every public module lists its names in ``__all__``, and the names that code
ported from the ``ocpp`` package imports are there."""

from __future__ import annotations

import importlib
import importlib.resources
import pkgutil

import pytest

import trio_ocpp
from trio_ocpp import messages

PUBLIC_MODULES = [
    "trio_ocpp",
    *sorted(
        info.name
        for info in pkgutil.walk_packages(trio_ocpp.__path__, "trio_ocpp.")
        if not any(part.startswith("_") for part in info.name.split("."))
        and ".examples" not in info.name
    ),
]

# Names an application written for the ocpp package imports, by module.
OCPP_NAMES = {
    "trio_ocpp.routing": ["on", "after"],
    "trio_ocpp.messages": [
        "Call",
        "CallResult",
        "CallError",
        "MessageType",
        "unpack",
        "pack",
        "validate_payload",
    ],
    "trio_ocpp.exceptions": [
        "OCPPError",
        "NotImplementedError",
        "NotSupportedError",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormatViolationError",
        "FormationViolationError",
        "PropertyConstraintViolationError",
        "OccurrenceConstraintViolationError",
        "OccurenceConstraintViolationError",
        "TypeConstraintViolationError",
        "GenericError",
    ],
    "trio_ocpp.charge_point": ["ChargePoint", "camel_to_snake_case", "snake_to_camel_case"],
    "trio_ocpp.v16": ["ChargePoint", "call", "call_result", "datatypes", "enums"],
    "trio_ocpp.v201": ["ChargePoint", "call", "call_result", "datatypes", "enums"],
    "trio_ocpp.v21": ["ChargePoint", "call", "call_result", "datatypes", "enums"],
}


def test_the_public_modules_are_the_expected_ones() -> None:
    assert {
        "trio_ocpp.messages",
        "trio_ocpp.exceptions",
        "trio_ocpp.routing",
        "trio_ocpp.casing",
        "trio_ocpp.charge_point",
        "trio_ocpp.v16.call",
    } <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_declares_all_and_it_resolves(name: str) -> None:
    if name.startswith("trio_ocpp.cluster"):
        pytest.importorskip(
            "glide", reason='the cluster needs valkey-glide: pip install ".[redis]"'
        )
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert len(set(module.__all__)) == len(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr} is listed but missing"
        assert not attr.startswith("_") or attr == "__version__"


@pytest.mark.parametrize(("module", "names"), sorted(OCPP_NAMES.items()))
def test_names_used_by_ported_code_exist(module: str, names: list[str]) -> None:
    exported = importlib.import_module(module).__all__
    assert set(names) <= set(exported)


def test_top_level_names() -> None:
    assert {"serve", "Server", "connect", "RejectConnection", "ConnectionRequest"} <= set(
        trio_ocpp.__all__
    )


def test_message_kind_is_public_beside_validate() -> None:
    # messages.validate and casing.payload_to_python/payload_to_wire take it (or its values).
    assert "MessageKind" in messages.__all__
    assert [kind.value for kind in messages.MessageKind] == ["request", "response", "send"]


def test_package_ships_type_information() -> None:
    assert importlib.resources.files("trio_ocpp").joinpath("py.typed").is_file()

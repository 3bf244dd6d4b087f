"""The public surface of the ``ocpp`` package (2.1.0, installed with the test extras) against
ours: every name its modules define exists in the same module here, and every member of its
enumerations with the same value, except the differences listed below, each with its reason
(the porting guide in README.md says the same)."""

from __future__ import annotations

import ast
import enum
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

MODULES = [
    "ocpp",
    "ocpp.charge_point",
    "ocpp.exceptions",
    "ocpp.messages",
    "ocpp.routing",
    *(
        f"ocpp.{v}{m}"
        for v in ("v16", "v201", "v21")
        for m in ("", ".call", ".call_result", ".datatypes", ".enums")
    ),
]

#: Names of the ocpp package that trio-ocpp does not have, and why.
MISSING = {
    "ocpp.messages.ASYNC_VALIDATION": "validation here is synchronous and takes microseconds; "
    "there is no thread to switch off",
    "ocpp.routing.routables": "a module-wide list of handler names, shared by every class; "
    "routes here belong to each class (routing.handlers_of, create_route_map)",
}

#: Enum members of the ocpp package that trio-ocpp does not have, and why.
MISSING_MEMBERS = {
    "ocpp.v201.enums.ConnectorEnumType.c_chao_ji": "not in the 2.0.1 JSON schema",
    "ocpp.v201.enums.ConnectorEnumType.c_gbt": "not in the 2.0.1 JSON schema",
    "ocpp.v201.enums.ConnectorEnumType.opp_charge": "not in the 2.0.1 JSON schema",
    "ocpp.v201.enums.DataEnumType.password_string": "not in the 2.0.1 JSON schema",
}
# Why that is a reason: a payload carrying such a value fails validation against the official
# schema, on our side and on a peer's, so the member could only ever produce a CALLERROR.


def defined_names(module: str) -> list[str]:
    """The public names a module of the ocpp package defines (not those it imports)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [name for name in names if not name.startswith("_")]


def ours(module: str) -> Any:
    return importlib.import_module("trio_ocpp" + module.removeprefix("ocpp"))


@pytest.mark.parametrize("module", MODULES)
def test_every_name_of_the_ocpp_package_is_here_or_listed(module: str) -> None:
    missing = {f"{module}.{n}" for n in defined_names(module) if not hasattr(ours(module), n)}
    assert missing == {name for name in MISSING if name.rsplit(".", 1)[0] == module}
    exported = set(getattr(ours(module), "__all__", ()))
    assert not [n for n in defined_names(module) if hasattr(ours(module), n) and n not in exported]


def test_the_listed_differences_have_reasons() -> None:
    assert all(len(reason) > 20 for reason in [*MISSING.values(), *MISSING_MEMBERS.values()])


def members(cls: Any) -> dict[str, Any]:
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return {name: member.value for name, member in cls.__members__.items()}
    return {name: value for name, value in vars(cls).items() if not name.startswith("_")}


@pytest.mark.parametrize("module", [m for m in MODULES if m.endswith(".enums")])
def test_every_enum_member_of_the_ocpp_package_is_here_with_its_value(module: str) -> None:
    theirs_module = importlib.import_module(module)
    differ = set()
    count = 0
    for name in defined_names(module):
        theirs, here = members(getattr(theirs_module, name)), members(getattr(ours(module), name))
        count += len(theirs)
        differ |= {f"{module}.{name}.{m}" for m, value in theirs.items() if here.get(m) != value}
    assert differ == {m for m in MISSING_MEMBERS if m.startswith(module + ".")}
    assert count > 100


def test_the_device_model_names_are_complete() -> None:
    # Spot checks of tools/spec_enums.toml through the generator: 2.0.1 appendices, 1.6 ch. 9.
    from trio_ocpp import v16, v201

    assert v201.enums.OCPPCommCtrlrVariableName.heartbeat_interval == "HeartbeatInterval"
    assert v201.enums.ControllerComponentName.chademo_ctrlr == "CHAdeMOCtrlr"
    assert v201.enums.DisplayVariableName.count_height_in_chars == "Count[HeightInChars]"
    assert v201.enums.SecurityEventType.firmware_updated == "FirmwareUpdated"
    assert v16.enums.ConfigurationKey.heartbeat_interval == "HeartbeatInterval"
    assert v16.enums.CiStringType.ci_string_500 == 500


def test_a_charge_point_has_the_public_attributes_of_the_ocpp_package() -> None:
    import logging

    import ocpp.v16
    from helpers.memory_connection import MemoryConnection

    from trio_ocpp import v16

    theirs = ocpp.v16.ChargePoint("CP", None)
    here = v16.ChargePoint("CP", MemoryConnection(), 30, logging.getLogger("ocpp"))
    public = {name for name in dir(theirs) if not name.startswith("_")}
    assert public == {"call", "id", "logger", "route_map", "route_message", "start"}
    assert not [name for name in public if not hasattr(here, name)]
    assert here.logger is theirs.logger and here.route_map == {} == theirs.route_map

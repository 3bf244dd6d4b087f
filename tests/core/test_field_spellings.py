"""Field spellings of the ``ocpp`` package: where it names a field otherwise, our classes, dicts
and handler parameters take its spelling too (an alias of our one canonical name); a handler
parameter that no field fills is an error when the class is created."""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

import ocpp.charge_point
import pytest
import trio
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import charge_point, v16, v21, v201
from trio_ocpp._core.casing_table import ALIASES, WIRE_TO_PYTHON
from trio_ocpp._core.schemas import MessageKind
from trio_ocpp.casing import payload_to_wire
from trio_ocpp.routing import after, on

MODULES = [f"{v}.{m}" for v in ("v16", "v201", "v21") for m in ("call", "call_result", "datatypes")]


@pytest.mark.parametrize("module", MODULES)
def test_every_field_name_of_the_ocpp_package_is_accepted(module: str) -> None:
    theirs = importlib.import_module(f"ocpp.{module}")
    ours = importlib.import_module(f"trio_ocpp.{module}")
    refused = []
    for name, cls in vars(theirs).items():
        if not dataclasses.is_dataclass(cls) or cls.__module__ != theirs.__name__:
            continue
        target = getattr(ours, name)
        accepted = {f.name for f in dataclasses.fields(target)} | set(target.__ocpp_aliases__)
        refused += [f"{name}.{f.name}" for f in dataclasses.fields(cls) if f.name not in accepted]
    assert refused == []


def test_handler_names_as_the_ocpp_package_makes_them_are_accepted() -> None:
    # ocpp passes handlers camel_to_snake_case of each wire name.
    differ = {}
    for wire, python in WIRE_TO_PYTHON.items():
        (theirs,) = ocpp.charge_point.camel_to_snake_case({wire: 1})
        if theirs != python:
            differ[wire] = theirs
    assert {wire: ALIASES[wire] for wire in differ} == differ


def test_alias_is_a_keyword_and_an_attribute_and_goes_out_under_the_wire_name() -> None:
    id_token = {"id_token": "x", "type": "ISO14443"}
    request = v21.call.Authorize(id_token=id_token, iso_15118_certificate_hash_data=[])
    assert request.iso15118_certificate_hash_data == request.iso_15118_certificate_hash_data == []
    assert request == v21.call.Authorize(id_token=id_token, iso15118_certificate_hash_data=[])
    assert request.to_wire()["iso15118CertificateHashData"] == []
    with pytest.raises(TypeError, match="alias"):
        v21.call.Authorize(
            id_token=id_token, iso15118_certificate_hash_data=[], iso_15118_certificate_hash_data=[]
        )
    info = v201.datatypes.IdTokenInfoType(status="Accepted", language_1="en")
    assert info.language1 == "en"
    # A dict with ocpp's spelling, as a handler of a ported application returns it.
    python = {"id_token_info": {"status": "Accepted", "language_1": "en", "language_2": "nl"}}
    wire = payload_to_wire("2.0.1", "Authorize", MessageKind.RESPONSE, python)
    assert wire == {"idTokenInfo": {"status": "Accepted", "language1": "en", "language2": "nl"}}


def test_an_alias_goes_with_positional_arguments_and_the_field_keeps_our_name() -> None:
    info = v201.datatypes.IdTokenInfoType("Accepted", None, None, language_2="nl")
    assert info.language2 == info.language_2 == "nl"
    assert dataclasses.asdict(info)["language2"] == "nl" and "language_2" not in vars(info)
    assert dataclasses.replace(info, language2="de").language_2 == "de"
    with pytest.raises(TypeError, match="alias"):  # replace() passes every field by our name
        dataclasses.replace(info, language_2="de")


HASH_DATA = [
    {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a",
        "issuerKeyHash": "b",
        "serialNumber": "c",
        "responderURL": "http://x",
    }
]


class Csms(v21.ChargePoint):
    seen: Any = None

    @on("Authorize")
    def on_authorize(self, id_token: Any, iso_15118_certificate_hash_data: Any = None) -> Any:
        self.seen = iso_15118_certificate_hash_data
        return v21.call_result.Authorize(id_token_info={"status": "Accepted"})

    @after("Authorize")
    def after_authorize(self, iso15118_certificate_hash_data: Any, call_unique_id: str) -> None:
        self.after_seen = (iso15118_certificate_hash_data, call_unique_id)


async def test_a_handler_declaring_the_alias_gets_the_field() -> None:
    cp = Csms("CP", MemoryConnection())
    id_token = {"idToken": "x", "type": "ISO14443"}
    payload = {"idToken": id_token, "iso15118CertificateHashData": HASH_DATA}
    async with running(cp) as connection:
        (sent,) = await connection.exchange(json.dumps([2, "1", "Authorize", payload]))
    assert json.loads(sent)[2] == {"idTokenInfo": {"status": "Accepted"}}
    assert cp.seen[0]["responder_url"] == "http://x"
    # The hook, by the field's own name.
    assert cp.after_seen == (cp.seen, "1")


async def test_a_hook_gets_fields_its_handler_did_not_declare() -> None:
    class Station(v16.ChargePoint):
        hooked: Any = None

        @on("RemoteStartTransaction")
        def on_start(self, id_tag: str) -> Any:
            return v16.call_result.RemoteStartTransaction(status="Accepted")

        @after("RemoteStartTransaction", inject_response=True)
        def started(self, connector_id: int, response: Any) -> None:
            self.hooked = (connector_id, response.status)

    connection = MemoryConnection()
    cp = Station("CP", connection)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)
        payload = {"idTag": "tag", "connectorId": 2}
        connection.deliver(json.dumps([2, "1", "RemoteStartTransaction", payload]))
        with trio.fail_after(5):
            while cp.hooked is None:
                await trio.sleep(0.001)
        nursery.cancel_scope.cancel()
    assert cp.hooked == (2, "Accepted")


def parameter_error(handler: Any, action: str = "BootNotification") -> str:
    with pytest.raises(TypeError) as info:
        type("Bad", (v16.ChargePoint,), {"handler": on(action)(handler)})
    return str(info.value)


def test_a_parameter_no_field_fills_is_an_error_when_the_class_is_created() -> None:
    def misspelled(self: Any, charge_point_vendor: str, charge_point_modle: str) -> None: ...

    message = parameter_error(misspelled)
    assert "Bad.handler: parameter 'charge_point_modle'" in message
    assert "the OCPP 1.6 BootNotification request" in message
    assert "did you mean 'charge_point_model'" in message

    def with_kwargs(self: Any, vendor: str = "", **kwargs: Any) -> None: ...

    assert "'vendor' is no field" in parameter_error(with_kwargs)


def test_what_a_handler_may_declare() -> None:
    class Fine(v16.ChargePoint):
        @on("BootNotification")
        def boot(self, charge_point_model: str, call_unique_id: str, **kwargs: Any) -> None: ...

        @after("BootNotification", inject_response=True)
        def booted(self, response: Any, charge_point_vendor: str) -> None: ...

    assert Fine._handlers.on["BootNotification"].wants_unique_id


def test_an_after_hook_asking_for_the_response_must_say_so() -> None:
    def hook(self: Any, response: Any) -> None: ...

    with pytest.raises(TypeError, match="inject_response=True"):
        type("Bad", (v16.ChargePoint,), {"hook": after("Heartbeat")(hook)})
    # In an @on handler it is just a name that no field has.
    assert "'response' is no field of the OCPP 1.6 Heartbeat" in parameter_error(hook, "Heartbeat")


def test_mixins_are_checked_once_they_meet_a_version() -> None:
    class Mixin:
        @on("Heartbeat")
        def heartbeat(self, nonsense: int) -> None: ...

    type("NoVersionYet", (Mixin, charge_point.ChargePoint), {})  # nothing to check against
    with pytest.raises(TypeError, match=r"'nonsense' is no field of the OCPP 2\.0\.1 Heartbeat"):
        type("Late", (Mixin, v201.ChargePoint), {})


def test_an_alias_beside_kwargs_gets_the_field_under_the_alias_only() -> None:
    class Csms21(v21.ChargePoint):
        @on("Authorize")
        def on_authorize(self, iso_15118_certificate_hash_data: Any = None, **kwargs: Any) -> Any:
            return None

    handler = Csms21._handlers.on["Authorize"]
    fields = {"id_token": {}, "iso15118_certificate_hash_data": HASH_DATA}
    assert handler.arguments(fields, "1") == {
        "id_token": {},
        "iso_15118_certificate_hash_data": HASH_DATA,
    }
    assert fields == {"id_token": {}, "iso15118_certificate_hash_data": HASH_DATA}  # untouched

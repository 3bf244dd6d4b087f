"""Opaque values (CONFORMANCE 43): DataTransfer ``data`` and customData extensions reach the
handler exactly as received and go out exactly as returned, keys untouched, in both directions, in
compat and typed mode, and in what ``call()`` returns."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from helpers.memory_connection import MemoryConnection, running

from trio_ocpp import v21, v201
from trio_ocpp.routing import on

# As a vendor might write it: lowerCamelCase, snake_case, capitals, nulls, nesting.
DATA = {"someKey": 1, "snake_key": 2, "nested": {"innerKey": [{"aB": 1, "c_d": None}], "URL": "x"}}
REPLY = {"reply_snake": 1, "replyCamel": [{"deep_key": None}]}
EXTENSION = {"vendorId": "com.example", "fooBar": {"deep_key": 1}}

PACKAGES = [pytest.param(v201, id="2.0.1"), pytest.param(v21, id="2.1")]


def vendor_class(package: Any) -> type[Any]:
    class Vendor(package.ChargePoint):  # type: ignore[misc, name-defined]
        seen: Any = None

        @on("DataTransfer")
        def on_data_transfer(self, vendor_id: str, data: Any = None, **kwargs: Any) -> Any:
            self.seen = {"data": data, **kwargs}
            return package.call_result.DataTransfer(status="Accepted", data=REPLY)

    return Vendor


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("typed", [False, True])
async def test_inbound_data_reaches_the_handler_and_its_reply_goes_out_as_is(
    package: Any, typed: bool
) -> None:
    cp = vendor_class(package)("CP", MemoryConnection(), typed=typed)
    payload = {"vendorId": "v", "data": DATA, "customData": EXTENSION}
    async with running(cp) as connection:
        (sent,) = await connection.exchange(json.dumps([2, "1", "DataTransfer", payload]))
    assert json.loads(sent) == [3, "1", {"status": "Accepted", "data": REPLY}]
    assert cp.seen["data"] == DATA
    custom = cp.seen["custom_data"]
    if typed:
        assert custom == package.datatypes.CustomDataType(
            vendor_id="com.example", extra={"fooBar": {"deep_key": 1}}
        )
    else:
        assert custom == {"vendor_id": "com.example", "fooBar": {"deep_key": 1}}


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("typed", [False, True])
async def test_call_sends_data_as_given_and_returns_the_reply_as_received(
    package: Any, typed: bool
) -> None:
    connection = MemoryConnection()
    cp = package.ChargePoint("CP", connection, typed=typed)
    results: list[Any] = []
    request = package.call.DataTransfer(vendor_id="v", data=DATA)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cp.start)

        async def ask() -> None:
            results.append(await cp.call(request))

        nursery.start_soon(ask)
        with trio.fail_after(5):
            while not (sent := connection.sent()):
                await trio.sleep(0.001)
        frame = json.loads(sent[0])
        assert frame[2:] == ["DataTransfer", {"vendorId": "v", "data": DATA}]
        connection.deliver(json.dumps([3, frame[1], {"status": "Accepted", "data": REPLY}]))
        with trio.fail_after(5):
            while not results:
                await trio.sleep(0.001)
        nursery.cancel_scope.cancel()
    assert results[0].data == REPLY

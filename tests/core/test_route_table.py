"""Route compilation, the one place for it (issue 17): what we send is checked strictly, what we
receive by the connection's policy, whichever side sends; no event loop needed (the core)."""

from __future__ import annotations

from typing import Any

import pytest

from trio_ocpp import exceptions, v16, v21
from trio_ocpp._core.route_table import inbound_route, outbound_exchange, outgoing_payload
from trio_ocpp._core.routing import handlers_of
from trio_ocpp._core.schemas import MessageKind
from trio_ocpp._core.validation import FormatPolicy, compile_validator, validation_engine
from trio_ocpp.routing import on

LENIENT, STRICT = FormatPolicy.LENIENT, FormatPolicy.STRICT
REQUEST, RESPONSE, SEND = MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.SEND


class Station(v16.ChargePoint):
    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> Any:
        raise NotImplementedError  # never called here

    @on("Heartbeat", skip_schema_validation=True)
    def on_heartbeat(self) -> Any:
        raise NotImplementedError


def validator(action: str, kind: MessageKind, formats: FormatPolicy) -> object:
    return compile_validator("1.6", action, kind, formats, validation_engine())


def test_a_call_we_send_is_checked_strictly_and_its_response_by_the_policy() -> None:
    exchange = outbound_exchange(
        v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M"),
        REQUEST,
        "1.6",
        LENIENT,
        validation_engine(),
    )
    assert exchange.request is validator("BootNotification", REQUEST, STRICT)
    assert exchange.response is validator("BootNotification", RESPONSE, LENIENT)
    assert exchange.response_class is v16.call_result.BootNotification


def test_a_call_we_answer_is_checked_by_the_policy_and_our_response_strictly() -> None:
    route = inbound_route(
        handlers_of(Station),
        "1.6",
        "BootNotification",
        REQUEST,
        plain_pre_dispatch=True,
        receive_formats=LENIENT,
        engine=validation_engine(),
    )
    assert route.request is validator("BootNotification", REQUEST, LENIENT)
    assert route.response is validator("BootNotification", RESPONSE, STRICT)
    assert route.inline and route.handler.name == "on_boot"


def test_a_handler_that_skips_validation_has_no_validators() -> None:
    route = inbound_route(
        handlers_of(Station),
        "1.6",
        "Heartbeat",
        REQUEST,
        plain_pre_dispatch=False,
        receive_formats=LENIENT,
        engine=validation_engine(),
    )
    assert (route.request, route.response, route.synchronous) == (None, None, False)


@pytest.mark.parametrize(
    ("action", "error"),
    [("Authorize", exceptions.NotSupportedError), ("MadeUp", exceptions.NotImplementedError)],
)
def test_an_action_without_a_handler_is_refused_as_the_rules_say(
    action: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        inbound_route(
            handlers_of(Station),
            "1.6",
            action,
            REQUEST,
            plain_pre_dispatch=True,
            receive_formats=LENIENT,
            engine=validation_engine(),
        )


def test_a_send_has_no_response_and_what_is_sent_is_the_wire_form_checked() -> None:
    data = [{"t": 0, "v": "1"}]
    stream = v21.call.NotifyPeriodicEventStream(id=1, pending=0, basetime="x", data=data)
    exchange = outbound_exchange(stream, SEND, None, LENIENT, validation_engine())
    assert (exchange.response, exchange.response_class, exchange.response_casing) == (None,) * 3
    with pytest.raises(exceptions.PropertyConstraintViolationError, match="date-time"):
        outgoing_payload(exchange, stream)
    assert outgoing_payload(exchange, stream, skip_schema_validation=True) == stream.to_wire()


@pytest.mark.parametrize(
    ("payload", "kind", "version", "message"),
    [
        (v16.call.Heartbeat(), SEND, "1.6", "expected a send payload object"),
        ({"vendorId": "x"}, REQUEST, "1.6", "expected a request payload object"),
        (
            v16.call.Heartbeat(),
            REQUEST,
            "2.1",
            "is an OCPP 1.6 message; this connection speaks 2.1",
        ),
    ],
)
def test_what_cannot_be_sent_is_a_type_error(
    payload: object, kind: MessageKind, version: str, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        outbound_exchange(payload, kind, version, LENIENT, validation_engine())

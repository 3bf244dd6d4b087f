"""The public surface of today is kept (issue 17): each public module still has every name it had
when the layers moved into packages. New names may come; none may go."""

from __future__ import annotations

import importlib

import pytest

# The names of each public module before the architecture issue, from their __all__.
SURFACE = {
    "trio_ocpp": [
        "BasicAuthCheck",
        "CertificateIdentity",
        "Client",
        "ClientCertificate",
        "ConnectionClosed",
        "ConnectionRejected",
        "ConnectionRequest",
        "ConnectionTimeout",
        "HandshakeError",
        "IdentityPolicy",
        "Membership",
        "NoSubprotocolError",
        "OCPPVersion",
        "ReceiveBudget",
        "RejectConnection",
        "Server",
        "VERSIONS",
        "WebSocketConnection",
        "__version__",
        "basic_auth_header",
        "charge_point_url",
        "client_ssl_context",
        "common_name_is_identity",
        "compare_secret",
        "connect",
        "parse_basic_auth",
        "retry_backoff",
        "serve",
        "server_ssl_context",
    ],
    "trio_ocpp.exceptions": [
        "CallTimeoutError",
        "ConnectionClosedError",
        "FormatViolationError",
        "FormationViolationError",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupportedError",
        "NotImplementedError",
        "NotSupportedError",
        "OCPPError",
        "OccurenceConstraintViolationError",
        "OccurrenceConstraintViolationError",
        "PropertyConstraintViolationError",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolationError",
        "UnknownCallErrorCodeError",
        "ValidationError",
        "error_from_code",
    ],
    "trio_ocpp.routing": [
        "after",
        "create_route_map",
        "on",
    ],
    "trio_ocpp.messages": [
        "Call",
        "CallError",
        "CallResult",
        "CallResultError",
        "FormatPolicy",
        "Frame",
        "MessageType",
        "Send",
        "get_validator",
        "pack",
        "set_validation_engine",
        "unpack",
        "validate",
        "validate_payload",
        "validation_engine",
    ],
    "trio_ocpp.casing": [
        "camel_to_snake_case",
        "payload_to_python",
        "payload_to_wire",
        "snake_to_camel_case",
        "to_python",
        "to_wire",
    ],
    "trio_ocpp.charge_point": [
        "ChargePoint",
        "Connection",
        "ConnectionStatistics",
        "LOGGER",
        "camel_to_snake_case",
        "remove_nones",
        "serialize_as_dict",
        "snake_to_camel_case",
    ],
    "trio_ocpp.workers": [
        "Worker",
        "open_reuse_port_listeners",
        "run_workers",
    ],
    "trio_ocpp.cluster": [
        "Cluster",
        "ClusterUnavailableError",
        "Event",
        "EventStatistics",
        "EventStream",
        "NotConnectedError",
        "REPLACED_CLOSE_CODE",
        "connect",
    ],
    "trio_ocpp.v16": [
        "ChargePoint",
        "call",
        "call_result",
        "datatypes",
        "enums",
    ],
    "trio_ocpp.v201": [
        "ChargePoint",
        "call",
        "call_result",
        "datatypes",
        "enums",
    ],
    "trio_ocpp.v21": [
        "ChargePoint",
        "call",
        "call_result",
        "datatypes",
        "enums",
    ],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_every_name_of_today_is_still_there(module: str) -> None:
    if module == "trio_ocpp.cluster":
        pytest.importorskip("glide")
    imported = importlib.import_module(module)
    missing = [name for name in SURFACE[module] if not hasattr(imported, name)]
    assert not missing, missing
    assert set(SURFACE[module]) <= set(imported.__all__)

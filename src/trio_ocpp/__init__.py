"""trio-ocpp: OCPP-J 1.6, 2.0.1 and 2.1 for trio.

The version packages (``trio_ocpp.v16``, ``v201``, ``v21``) hold each version's ChargePoint,
``call``/``call_result`` messages, datatypes and enums; ``trio_ocpp.routing`` the ``@on`` and
``@after`` decorators; ``serve``/``Server`` run a central system, ``connect`` a charge point and
``Client`` keeps one connected; an ``Observer`` sees their frames and exchanges. Security
profiles: ``basic_auth`` on both sides (1-2), ``server_ssl_context``/``client_ssl_context`` for
TLS (2-3), ``ClientCertificate`` and ``common_name_is_identity``
(``Server(certificate_identity=...)``) for client certificates (3).
``stop_on_signals`` stops a server or a client gracefully on SIGINT or SIGTERM.
"""

# The layers, each importing only those below it (tests/scenarios/test_layers.py checks it):
#   _core/       sans-I/O: frames, versions, JSON, schemas, validation, casing, payloads, routes
#   _transport/  the WebSocket connection and its handshakes, TLS, adapters for other libraries
#   _runtime/    ChargePoint: one nursery per connection, inbound and outbound calls, keep-alive
#   _server/     Server and serve: accepting, admission, the checks before the upgrade
#   _client/     connect and Client
#   cluster/     more than one process, through Redis (an optional extra)
# The public modules (exceptions, routing, messages, casing, charge_point, stopping, workers
# and the version packages v16, v201, v21) are made of these; docs/architecture.md draws them.

from ._client.client import Client as Client
from ._client.client import ConnectionRejected as ConnectionRejected
from ._client.client import ConnectionTimeout as ConnectionTimeout
from ._client.client import HandshakeError as HandshakeError
from ._client.client import NoSubprotocolError as NoSubprotocolError
from ._client.client import charge_point_url as charge_point_url
from ._client.client import connect as connect
from ._client.client import retry_backoff as retry_backoff
from ._core.auth import BasicAuthCheck as BasicAuthCheck
from ._core.auth import basic_auth_header as basic_auth_header
from ._core.auth import compare_secret as compare_secret
from ._core.auth import parse_basic_auth as parse_basic_auth
from ._core.identity import IdentityPolicy as IdentityPolicy
from ._core.versions import VERSIONS as VERSIONS
from ._core.versions import OCPPVersion as OCPPVersion
from ._runtime.observe import ConnectionInfo as ConnectionInfo
from ._runtime.observe import Direction as Direction
from ._runtime.observe import ExchangeRecord as ExchangeRecord
from ._runtime.observe import Observer as Observer
from ._runtime.observe import Outcome as Outcome
from ._server.collector import Collector as Collector
from ._server.server import ConnectionRequest as ConnectionRequest
from ._server.server import Membership as Membership
from ._server.server import RejectConnection as RejectConnection
from ._server.server import Server as Server
from ._server.server import serve as serve
from ._transport.connection import ConnectionClosed as ConnectionClosed
from ._transport.connection import WebSocketConnection as WebSocketConnection
from ._transport.receive_budget import ReceiveBudget as ReceiveBudget
from ._transport.tls import CertificateIdentity as CertificateIdentity
from ._transport.tls import ClientCertificate as ClientCertificate
from ._transport.tls import client_ssl_context as client_ssl_context
from ._transport.tls import common_name_is_identity as common_name_is_identity
from ._transport.tls import server_ssl_context as server_ssl_context
from .stopping import stop_on_signals as stop_on_signals

__version__ = "0.1.0"

__all__ = [
    "VERSIONS",
    "BasicAuthCheck",
    "CertificateIdentity",
    "Client",
    "ClientCertificate",
    "Collector",
    "ConnectionClosed",
    "ConnectionInfo",
    "ConnectionRejected",
    "ConnectionRequest",
    "ConnectionTimeout",
    "Direction",
    "ExchangeRecord",
    "HandshakeError",
    "IdentityPolicy",
    "Membership",
    "NoSubprotocolError",
    "OCPPVersion",
    "Observer",
    "Outcome",
    "ReceiveBudget",
    "RejectConnection",
    "Server",
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
    "stop_on_signals",
]

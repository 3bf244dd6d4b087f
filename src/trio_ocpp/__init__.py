"""trio-ocpp: OCPP-J 1.6, 2.0.1 and 2.1 for trio.

The version packages (``trio_ocpp.v16``, ``v201``, ``v21``) hold each version's ChargePoint,
``call``/``call_result`` messages, datatypes and enums; ``trio_ocpp.routing`` the ``@on`` and
``@after`` decorators; ``serve``/``Server`` run a central system, ``connect`` a charge point and
``Client`` keeps one connected. Security profiles: ``basic_auth`` on both sides (1-2),
``server_ssl_context``/``client_ssl_context`` for TLS (2-3), ``ClientCertificate`` and
``common_name_is_identity`` (``Server(certificate_identity=...)``) for client certificates (3).
"""

from ._auth import BasicAuthCheck as BasicAuthCheck
from ._auth import basic_auth_header as basic_auth_header
from ._auth import compare_secret as compare_secret
from ._auth import parse_basic_auth as parse_basic_auth
from ._client import Client as Client
from ._client import ConnectionRejected as ConnectionRejected
from ._client import ConnectionTimeout as ConnectionTimeout
from ._client import HandshakeError as HandshakeError
from ._client import NoSubprotocolError as NoSubprotocolError
from ._client import charge_point_url as charge_point_url
from ._client import connect as connect
from ._client import retry_backoff as retry_backoff
from ._identity import IdentityPolicy as IdentityPolicy
from ._receive_budget import ReceiveBudget as ReceiveBudget
from ._server import ConnectionRequest as ConnectionRequest
from ._server import Membership as Membership
from ._server import RejectConnection as RejectConnection
from ._server import Server as Server
from ._server import serve as serve
from ._tls import CertificateIdentity as CertificateIdentity
from ._tls import ClientCertificate as ClientCertificate
from ._tls import client_ssl_context as client_ssl_context
from ._tls import common_name_is_identity as common_name_is_identity
from ._tls import server_ssl_context as server_ssl_context
from ._versions import VERSIONS as VERSIONS
from ._versions import OCPPVersion as OCPPVersion
from ._websocket import ConnectionClosed as ConnectionClosed
from ._websocket import WebSocketConnection as WebSocketConnection

__version__ = "0.1.0"

__all__ = [
    "VERSIONS",
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
]

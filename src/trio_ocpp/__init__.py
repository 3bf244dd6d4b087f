"""trio-ocpp: OCPP-J 1.6, 2.0.1 and 2.1 for trio.

The version packages (``trio_ocpp.v16``, ``v201``, ``v21``) hold each version's ChargePoint,
``call``/``call_result`` messages, datatypes and enums; ``trio_ocpp.routing`` the ``@on`` and
``@after`` decorators; ``serve``/``Server`` run a central system and ``connect`` a charge point.
"""

from ._client import NoSubprotocolError as NoSubprotocolError
from ._client import charge_point_url as charge_point_url
from ._client import connect as connect
from ._server import ConnectionRequest as ConnectionRequest
from ._server import RejectConnection as RejectConnection
from ._server import Server as Server
from ._server import serve as serve
from ._versions import VERSIONS as VERSIONS
from ._versions import OCPPVersion as OCPPVersion

__version__ = "0.1.0"

__all__ = [
    "VERSIONS",
    "ConnectionRequest",
    "NoSubprotocolError",
    "OCPPVersion",
    "RejectConnection",
    "Server",
    "__version__",
    "charge_point_url",
    "connect",
    "serve",
]

"""trio-ocpp: OCPP-J 1.6, 2.0.1 and 2.1 for trio."""

from ._versions import VERSIONS as VERSIONS
from ._versions import OCPPVersion as OCPPVersion

__version__ = "0.1.0"

__all__ = ["VERSIONS", "OCPPVersion", "__version__"]

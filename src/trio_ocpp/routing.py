"""``@on`` and ``@after``: mark ChargePoint methods as handlers of OCPP actions (the ``ocpp``
package's ``routing`` module); ``create_route_map`` is its view of a ChargePoint's routes. How
the routes are built and checked: :mod:`trio_ocpp._core.routing`.
"""

from ._core.routing import after as after
from ._core.routing import create_route_map as create_route_map
from ._core.routing import on as on

__all__ = ["after", "create_route_map", "on"]

"""More than one process: calls and events across the nodes of a cluster, through Redis.

Needs the ``redis`` extra (valkey-glide): ``pip install "trio-ocpp[redis]"``.

::

    async with trio_ocpp.cluster.connect("redis://127.0.0.1:6379") as cluster:
        present = await cluster.charge_points()          # identity -> node id, all nodes
        result = await cluster.call("CP_1", call.GetConfiguration(key=["HeartbeatInterval"]))

A server whose charge points the others can call: ``Server(..., cluster=cluster)``. Workers
sharing one port: :mod:`trio_ocpp.workers`.
"""

try:
    import glide as _glide  # noqa: F401
except ImportError as exc:
    raise ImportError(
        'trio_ocpp.cluster needs valkey-glide: pip install "trio-ocpp[redis]"'
    ) from exc

from ._broker import ClusterUnavailableError as ClusterUnavailableError
from ._broker import NotConnectedError as NotConnectedError
from ._cluster import REPLACED_CLOSE_CODE as REPLACED_CLOSE_CODE
from ._cluster import Cluster as Cluster
from ._cluster import connect as connect
from ._events import Event as Event
from ._events import EventStream as EventStream
from ._recorder import EventStatistics as EventStatistics
from ._watch import CallWatcher as CallWatcher
from ._watch import EventWatcher as EventWatcher

__all__ = [
    "REPLACED_CLOSE_CODE",
    "CallWatcher",
    "Cluster",
    "ClusterUnavailableError",
    "Event",
    "EventStatistics",
    "EventStream",
    "EventWatcher",
    "NotConnectedError",
    "connect",
]

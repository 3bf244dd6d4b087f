"""Testing an application built on trio-ocpp: its handlers, its central system, its server.

- :func:`connected_pair`: your central system class and a charge point class running on an
  in-memory connection that carries the frames as text through the whole runtime.
- :func:`fake_charge_point` and :func:`fake_central_system`: scripted peers, to drive one side
  with exact frames, in memory or against a live server's URL;
  :func:`fake_central_system_server` answers a charge point's real socket connections.
- :func:`open_recorder` and :func:`replay`: record a real charge point's traffic as JSON Lines,
  and play it again against a central system, comparing the answers.
- :func:`serving`: a real ``Server`` on a free port, for end-to-end tests.

The pytest plugin (``trio_ocpp.testing.pytest_plugin``, registered when the package is
installed) adds fixtures for these and ``--ocpp-frames``. Nothing here imports pytest.
"""

from .frames_log import FrameLog
from .listening import FakeCentralSystemServer, fake_central_system_server
from .memory import MemoryConnection, memory_connections
from .pair import Pair, connected_pair
from .record import Recorder, open_recorder
from .replay import ReplayReport, read_recording, replay
from .scripted import (
    ExpectationError,
    FakeCentralSystem,
    FakeChargePoint,
    ScriptedPeer,
    fake_central_system,
    fake_charge_point,
)
from .server import running, serving

__all__ = [
    "ExpectationError",
    "FakeCentralSystem",
    "FakeCentralSystemServer",
    "FakeChargePoint",
    "FrameLog",
    "MemoryConnection",
    "Pair",
    "Recorder",
    "ReplayReport",
    "ScriptedPeer",
    "connected_pair",
    "fake_central_system",
    "fake_central_system_server",
    "fake_charge_point",
    "memory_connections",
    "open_recorder",
    "read_recording",
    "replay",
    "running",
    "serving",
]

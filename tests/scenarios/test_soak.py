"""The short soak of issue 7, in CI: ``benchmarks/soak.py`` with 50 connections for 3 s.

The long one is a command: ``python benchmarks/soak.py --connections 1000 --seconds 60``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SOAK = Path(__file__).parents[2] / "benchmarks" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_short_soak_loses_nothing_and_raises_nothing() -> None:
    # Short and busy: one action per 50 ms, so that every kind of fault shows up.
    result = await load_soak().soak(connections=50, seconds=3, interval=0.05)
    assert result["unexpected_exceptions"] == {"client": 0, "server": 0}, (
        result["client_unexpected"],
        result["server_tracebacks"],
        result["server_stderr_tail"],
    )
    assert result["valid_calls"] > 500
    assert result["valid_calls_unanswered"] == 0
    client = result["client"]
    for kind in ["malformed CALL", "not JSON", "unanswered garbage", "TCP reset", "abrupt close"]:
        assert client[f"sent: {kind}"] > 0, kind
    # Every flood closed its connection with 1002, every oversized message with 1009.
    assert client.get("closed by the server: 1002", 0) == client.get("sent: flood of bad frames", 0)
    assert client.get("closed by the server: 1009", 0) == client.get("sent: oversized message", 0)
    # Once everyone has gone, the server is back where it started.
    left = result["server_after_drain"]
    assert left["connections"] == 0
    assert left["tasks"]["after"] == left["tasks"]["idle"]
    assert left["open_files"]["after"] == left["open_files"]["idle"]

"""Fleets: a fleet file's groups run as said (identities, versions, the defaults' transactions
within 30 s); the command line's report and exit status when the central system answers with a
CALLERROR; a small storm against our example central system and the ``ocpp`` package's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from simulator_cli import BUSY, simulate

from trio_ocpp import ConnectionInfo, Observer, exceptions
from trio_ocpp import testing as servers
from trio_ocpp.examples.central_system import CLASSES, CentralSystem16
from trio_ocpp.routing import on
from trio_ocpp.simulate._fleet import Fleet, groups_from, load
from trio_ocpp.simulate._stats import FleetStats

ROOT = Path(__file__).resolve().parents[2]

FLEET_FILE = """
seed = 3
connectors = 1

[[group]]
version = "1.6"
count = 2
identity = "OLD-{n}"

[[group]]
version = "2.0.1"
count = 3
identity = "NEW-{n}"
connectors = 2
"""


class Versions(Observer):
    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def connection_opened(self, connection: ConnectionInfo) -> None:
        self.seen[connection.identity] = connection.version


def test_a_fleet_file_runs_its_groups_with_transactions_in_30_s(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET_FILE)
    groups = groups_from(load(path))
    assert [(g.version, g.count, g.connectors) for g in groups] == [
        ("1.6", 2, 1),
        ("2.0.1", 3, 2),
    ]
    versions = Versions()
    clock = trio.testing.MockClock(autojump_threshold=0.01)
    stats = FleetStats()

    async def run() -> None:
        async with servers.serving(list(CLASSES.values()), observers=[versions]) as server:
            fleet = Fleet(url=f"ws://127.0.0.1:{server.port}", groups=groups, duration=30)
            await fleet.run(stats)

    trio.run(run, clock=clock)
    assert versions.seen == {
        "OLD-1": "1.6",
        "OLD-2": "1.6",
        "NEW-3": "2.0.1",
        "NEW-4": "2.0.1",
        "NEW-5": "2.0.1",
    }
    assert stats.all_booted_after is not None and stats.transactions >= 1
    assert stats.unexpected == 0
    meter_values = stats.actions["MeterValues", "outbound"].count
    events = stats.actions["TransactionEvent", "outbound"].count
    assert meter_values and events


class FailingHeartbeat(CentralSystem16):
    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        raise exceptions.InternalError("no heartbeats today")


async def test_a_callerror_is_in_the_report_and_the_exit_status(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    async with servers.serving(FailingHeartbeat) as server:
        done = await trio.to_thread.run_sync(
            lambda: simulate(
                "--url",
                f"ws://127.0.0.1:{server.port}",
                "--charge-points",
                "2",
                "--heartbeat-interval",
                "0.5",
                "--duration",
                "2",
                "--json",
                str(report),
            )
        )
    assert done.returncode == 1, done.stderr
    heartbeat = next(line for line in done.stdout.splitlines() if line.startswith("Heartbeat"))
    assert "InternalError" in heartbeat
    assert "unexpected errors" in done.stdout.splitlines()[-1]
    data = json.loads(report.read_text())
    (item,) = [a for a in data["actions"] if a["action"] == "Heartbeat"]
    assert item["errors"]["InternalError"] == item["count"] >= 2
    assert data["connects"] == 2 and data["unexpected"] >= 2


@pytest.mark.parametrize("kind", ["trio-ocpp", "ocpp"])
def test_a_small_storm_of_every_version(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("ocpp")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        "\n".join(
            f'[[group]]\nversion = "{v}"\ncount = 10\nidentity = "{v}-{{n}}"\n'
            for v in ("1.6", "2.0.1", "2.1")
        )
    )
    serve = "serve-ocpp" if kind == "ocpp" else "serve-trio-ocpp"
    command = [sys.executable, "-m", "benchmarks.storm", serve]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as server:
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            report = tmp_path / "report.json"
            done = simulate(
                "--url",
                f"ws://127.0.0.1:{port}",
                "--config",
                str(fleet),
                *BUSY,
                "--json",
                str(report),
            )
        finally:
            server.terminate()
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["charge_points"] == 30 and data["connects"] == 30
    assert data["all_booted_after"] is not None and data["transactions"] >= 30
    actions = {a["action"] for a in data["actions"]}
    assert {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"} <= actions

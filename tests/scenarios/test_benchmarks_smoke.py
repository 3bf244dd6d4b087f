"""The benchmarks' quick mode runs end to end (under a minute): every section and its JSON, and no
verdicts on the targets (quick sizes say nothing about them); the verdicts of a full run; every
benchmark command's --help.

Figures are not checked here; a run on a busy CI machine says nothing about them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmarks_run_and_write_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["quick"] is True
    for section in ("validation", "routing", "e2e", "connections"):
        assert results[section], section
    assert {row["server"] for row in results["e2e"]} >= {"echo", "trio-ocpp"}
    assert all(row["calls_per_s"] > 0 for row in results["e2e"])
    assert results["connections"][0]["heartbeats"] > 0
    # The CPU per call section: ocpp-rpc measured, or said how to install when Node lacks it.
    cpu = results["cpu"]
    assert all(row["server_us_per_call"] > 0 for row in cpu["rows"])
    if cpu["ocpp_rpc_skipped"]:
        assert "ocpp-rpc skipped" in done.stdout and "npm install" in cpu["ocpp_rpc_skipped"]
    else:
        assert "ocpp-rpc" in {row["server"] for row in cpu["rows"]}
    storm = results["storm"]
    assert {row["tls"] for row in storm["rows"]} == {False, True}
    assert all(row["all_booted_s"] is not None for row in storm["rows"]), storm["rows"]
    cluster = results["cluster"]  # skipped only without redis-server and the redis extra
    assert "skipped" in cluster or cluster["events"]["missing"] == 0
    assert results["targets"] == []
    assert "Targets" not in done.stdout and "MISSED" not in done.stdout


def test_a_full_run_gives_verdicts_on_the_targets() -> None:
    # The figures of a full run, as its JSON holds them: each target measured gets yes or MISSED.
    results = {
        "validation": [{"message": "1.6 MeterValues", "speedup": 60.0}],
        "routing": [
            {"message": "1.6 BootNotification", "direction": "inbound CALL",
             "ratio_vs_threads_off": 8.0},
        ],
        "cpu": {"ratios": [
            {"ratio": "trio-ocpp µs / echo µs", "measured": 1.4, "sense": "<=", "bar": 1.15},
            {"ratio": "ocpp-rpc µs / trio-ocpp µs", "measured": 0.9, "sense": ">=", "bar": 0.85},
        ]},
        "storm": {"rows": [
            {"server": "trio-ocpp", "tls": False, "all_booted_s": 6.0, "heartbeat_p99_ms": 9.0,
             "heartbeat_max_ms": 60.0},
            {"server": "ocpp-rpc", "tls": False, "all_booted_s": 5.6, "heartbeat_p99_ms": 5.7,
             "heartbeat_max_ms": 19.0},
            {"server": "trio-ocpp", "tls": True, "all_booted_s": 1.0, "heartbeat_p99_ms": 1.0,
             "heartbeat_max_ms": 1.0},
        ]},
    }  # fmt: skip
    code = (
        "import json, sys; from benchmarks.run import targets; "
        "print(json.dumps(targets(json.load(sys.stdin))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        input=json.dumps(results),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        ["validation 1.6 MeterValues >= 50x jsonschema", 60.0, "yes"],
        ["routing 1.6 BootNotification >= 10x ocpp", 8.0, "MISSED"],
        ["CPU per call: ocpp-rpc µs / trio-ocpp µs >= 0.85", 0.9, "yes"],
        ["CPU per call: trio-ocpp µs / echo µs <= 1.15", 1.4, "MISSED"],
        ["storm: all booted s <= ocpp-rpc's", 6.0, "MISSED"],
        ["storm: heartbeat p99 ms <= 2x ocpp-rpc's", 9.0, "yes"],
        ["storm: heartbeat max ms <= 50", 60.0, "MISSED"],
    ]


HELPED = [
    ["-m", "benchmarks"],
    *(["-m", f"benchmarks.{name}"] for name in
      ("attack", "cluster", "hoard", "loadgen", "servers", "storm", "storm_load",
       "worst_frames")),
    ["benchmarks/soak.py"],
]  # fmt: skip


@pytest.mark.parametrize("command", HELPED, ids=lambda command: command[-1])
def test_help_cites_no_internal_numbers(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python ")
    for internal in ("issue", "CONFORMANCE", "item "):
        assert internal not in done.stdout, done.stdout


def test_the_attack_command_runs(tmp_path: Path) -> None:
    # A few classes, briefly: the command works end to end (figures are not checked).
    output = tmp_path / "attack.json"
    classes = "pipelined_frames,held_slots,tls_dribble,big_events"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.attack",
            "--seconds",
            "0.5",
            "--only",
            classes,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "served >= 99% in every class" in done.stdout, done.stderr[-3000:]
    results = json.loads(output.read_text())
    assert [row["attack"] for row in results["attacks"]] == classes.split(",")
    assert all(row["alive"] and not row["tracebacks"] for row in results["attacks"])

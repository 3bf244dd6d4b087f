"""The benchmarks' quick mode runs end to end (about 16 s): every section, its JSON, its targets.

Figures are not checked here; a run on a busy CI machine says nothing about them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    cluster = results["cluster"]  # skipped only without redis-server and the redis extra
    assert "skipped" in cluster or cluster["events"]["missing"] == 0
    assert [target[0] for target in results["targets"]]
    assert "Targets" in done.stdout


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

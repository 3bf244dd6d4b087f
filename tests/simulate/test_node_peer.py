"""The README's Node central system (the ``ocpp-rpc`` package): a fleet of simulated 1.6 charge
points runs transactions against it with no unexpected error. Skipped without ``node`` and
``ocpp-rpc`` (found on ``NODE_PATH``, or where the benchmarks' ``npm install`` put it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from simulator_cli import BUSY, simulate

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Where ``npm install --prefix benchmarks/node`` puts ocpp-rpc.
BENCHMARKS_MODULES = ROOT / "benchmarks" / "node" / "node_modules"
NODE_ENVIRONMENT = {
    **os.environ,
    "NODE_PATH": os.pathsep.join(
        filter(None, [os.environ.get("NODE_PATH"), str(BENCHMARKS_MODULES)])
    ),
}


def node_with_ocpp_rpc() -> bool:
    if shutil.which("node") is None:
        return False
    found = subprocess.run(
        ["node", "-e", "require('ocpp-rpc')"], capture_output=True, env=NODE_ENVIRONMENT
    )
    return found.returncode == 0


@pytest.mark.skipif(
    not node_with_ocpp_rpc(),
    reason="needs node and ocpp-rpc: npm install --prefix benchmarks/node, or on NODE_PATH",
)
def test_the_readme_node_central_system(tmp_path: Path) -> None:
    section = README[README.index("## Simulated charge points\n") :]
    match = re.search(r"```js\n(.*?)```", section, re.DOTALL)
    assert match is not None
    script = tmp_path / "central_system.js"
    script.write_text(match.group(1))
    environment = {**NODE_ENVIRONMENT, "PORT": "0"}
    with subprocess.Popen(
        ["node", str(script)], stdout=subprocess.PIPE, text=True, env=environment
    ) as server:
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            report = tmp_path / "report.json"
            done = simulate(
                "--url", f"ws://127.0.0.1:{port}", "--charge-points", "5", *BUSY,
                "--json", str(report),
            )  # fmt: skip
        finally:
            server.terminate()
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["connects"] == 5 and data["all_booted_after"] is not None
    actions = {a["action"] for a in data["actions"]}
    assert {"StartTransaction", "MeterValues", "StopTransaction"} <= actions

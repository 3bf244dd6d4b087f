"""The README's simulator example from Python runs against our example central system."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_python_example_boots_a_simulated_charge_point() -> None:
    section = README[README.index("## Simulated charge points\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    command = [sys.executable, "-m", "benchmarks.storm", "serve-trio-ocpp"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as server:
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            code = match.group(1).replace("localhost:9000", f"127.0.0.1:{port}")
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
            )
        finally:
            server.terminate()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['Available', 'Available'] 1"

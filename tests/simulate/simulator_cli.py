"""The simulator's command line as the tests run it: ``simulate(*arguments)`` in a process
(a module of this folder's own: ``conftest`` would be the tests' top one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A few seconds in which every charge point runs transactions with meter values.
BUSY = (
    "--first-transaction-within", "1", "--meter-interval", "1",
    "--transaction-duration", "1", "2", "--duration", "4",
)  # fmt: skip


def simulate(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "trio_ocpp.simulate", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)

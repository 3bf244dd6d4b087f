"""The Node side of the benchmarks (benchmarks/node/): ocpp-rpc's central system, the fastest
OCPP server we know, and a load generator on Node's ``ws``. Both are optional: without ``node``
or the npm packages the benchmarks skip them and say how to install them (:data:`INSTALL`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

FOLDER = Path(__file__).parent / "node"
#: The one command that installs the npm packages (into benchmarks/node/node_modules, ignored).
INSTALL = "npm install --prefix benchmarks/node"
_PACKAGES = ("ocpp-rpc", "ws")


def missing() -> str | None:
    """Why the Node side cannot run here, with the remedy; None when it can."""
    if shutil.which("node") is None:
        return f"node is not installed: Node.js 18 or newer, then {INSTALL}"
    absent = [name for name in _PACKAGES if not (FOLDER / "node_modules" / name).is_dir()]
    if absent:
        return f"the npm packages {', '.join(absent)} are missing: {INSTALL}"
    return None


def command(script: str, *arguments: str) -> list[str]:
    """The command running ``benchmarks/node/SCRIPT`` with ``arguments``."""
    node = shutil.which("node")
    assert node is not None, "call missing() first"
    return [node, str(FOLDER / script), *arguments]

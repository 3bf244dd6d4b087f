"""Where the tests find the official OCA schemas, the reference our schemas/ are checked against.

``../shared/ocpp-schemas`` beside the repository when it is there (the project's reference data),
else the copies inside the installed ``ocpp`` package, a test dependency, which ships the official
files unchanged (byte for byte the same, all 387). So a fresh clone tests everything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "ocpp-schemas"


def _packaged() -> Path | None:
    spec = importlib.util.find_spec("ocpp")
    return None if spec is None or spec.origin is None else Path(spec.origin).parent


#: The ocpp package's folder, which has v16/schemas/, v201/schemas/, v21/schemas/.
PACKAGED = _packaged()
#: The folder of the reference used: it holds v16/, v201/ and v21/, in either layout
#: (tools/generate_schemas.py reads both).
OFFICIAL_ROOT = SHARED if SHARED.is_dir() else PACKAGED

#: The reason a test of the official schemas cannot run, worded for the person who can fix it.
MISSING = (
    f"the official OCA schemas are neither at {SHARED} nor in an installed ocpp package: "
    'pip install -e ".[test]" installs ocpp 2.1.0, which ships them'
)


def official_file(folder: str, name: str) -> Path:
    """One official schema file, e.g. ``official_file("v16", "Heartbeat.json")``."""
    assert OFFICIAL_ROOT is not None, MISSING
    packaged = OFFICIAL_ROOT / folder / "schemas" / name
    return packaged if packaged.exists() else OFFICIAL_ROOT / folder / name

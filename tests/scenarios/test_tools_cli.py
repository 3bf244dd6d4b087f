"""The generators' command lines (issue 18, item 9): ``--help`` helps, and a missing input is a
clear error with a non-zero status, not an empty run (``generate_model.py --help`` made a folder
named ``--help``; ``generate_schemas.py`` without its input wrote "0 schema files" and exit 0)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.official_schemas import MISSING, OFFICIAL_ROOT

TOOLS = Path(__file__).resolve().parents[2] / "tools"
GENERATORS = ["generate_casing.py", "generate_model.py", "generate_schemas.py"]


def run(tool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(tool), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", GENERATORS)
def test_help_explains_and_writes_nothing(name: str, tmp_path: Path) -> None:
    done = run(TOOLS / name, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python tools/{name} [-h]")
    assert list(tmp_path.iterdir()) == []


def test_generate_schemas_without_official_schemas_fails(tmp_path: Path) -> None:
    (tmp_path / "official").mkdir()
    done = run(TOOLS / "generate_schemas.py", "official", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "error: no schema files for v16, v201, v21 in official" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(OFFICIAL_ROOT is None, reason=MISSING)
def test_generate_schemas_writes_them(tmp_path: Path) -> None:
    done = run(TOOLS / "generate_schemas.py", str(OFFICIAL_ROOT), "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = len(list((tmp_path / "out").glob("*/*.json")))
    assert done.stdout.strip() == f"wrote {written} schema files to out" and written > 300


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("generate_casing.py", "no schemas in"),
        ("generate_model.py", "spec_enums.toml is missing"),
    ],
)
def test_a_generator_without_its_input_fails(name: str, message: str, tmp_path: Path) -> None:
    # A checkout with the tool alone: no schemas/ beside it, no tools/spec_enums.toml.
    (tmp_path / "tools").mkdir()
    shutil.copy(TOOLS / name, tmp_path / "tools" / name)
    done = run(tmp_path / "tools" / name, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tools"]  # nothing written

"""What the instruction counts share: callgrind's command line and its output's total."""

from __future__ import annotations

import re

__all__ = ["callgrind_total", "under_callgrind"]


def under_callgrind(out: str, command: list[str]) -> list[str]:
    """``command`` run under callgrind, its counts written to ``out``; with one hash seed, so
    that dicts and sets probe alike in every run (their counts differ by a percent or two with
    the seed otherwise)."""
    callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    return ["env", "PYTHONHASHSEED=0", *callgrind, *command]


def callgrind_total(path: str) -> int:
    """The instructions a callgrind output file counted in all."""
    with open(path) as file:
        totals = re.search(r"^(?:summary|totals): (\d+)", file.read(), re.MULTILINE)
    assert totals is not None, "no totals in callgrind's output"
    return int(totals[1])

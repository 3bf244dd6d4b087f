"""Hostile frames (issue 12, items 3-4): the costliest frames of 1 MiB a peer can build are
answered within a bound, their answers can be sent, and deep nesting is refused, not recursed.

The bound is generous (a shared CI machine); ``python -m benchmarks.worst_frames`` measures them.
Before the first-error search, several of these frames took 1 to 14 s each.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest
import trio

from trio_ocpp import v16, v201
from trio_ocpp._core.frames import MAX_NESTING

_SPEC = importlib.util.spec_from_file_location(
    "worst_frames", Path(__file__).parents[2] / "benchmarks" / "worst_frames.py"
)
assert _SPEC is not None and _SPEC.loader is not None
worst_frames = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(worst_frames)
stall = worst_frames.stall

# Generous: ~50 ms is the target on an idle machine; the worst frames take 5-140 ms there.
BOUND = 1.0

FRAMES = list(worst_frames.frames())


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "trio_ocpp")


@pytest.mark.parametrize(
    ("cls", "text"),
    [(cls, text) for _, _, cls, text in FRAMES],
    ids=[f"{version}-{name}" for version, name, _, _ in FRAMES],
)
async def test_a_worst_frame_holds_the_loop_briefly_and_is_answered(cls: type, text: str) -> None:
    seconds, answer = await stall(cls, text, repeat=1)
    assert seconds < BOUND
    frame = json.loads(answer)
    # Answered with its id, or with "-1" when it holds too many arrays and objects to be read.
    assert frame[0] in (3, 4) and frame[1] in ("1", "-1")
    if frame[0] == 4:
        assert len(frame[3]) <= 255
    answer.encode()  # sendable


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 600, 5000])
@pytest.mark.parametrize("cls", [v16.ChargePoint, v201.ChargePoint])
async def test_deep_custom_data_is_refused_without_recursing(cls: type, depth: int) -> None:
    text = '[2,"1","DataTransfer",' + '{"a":' * depth + "1" + "}" * depth + "]"
    _, answer = await stall(cls, text, repeat=1)
    frame = json.loads(answer)
    expected = "FormationViolation" if cls is v16.ChargePoint else "FormatViolation"
    if depth < 1000:  # deeper than the parsers read: not JSON to them
        assert frame[2] == expected
    assert frame[0] == 4


async def test_a_lone_surrogate_id_action_or_property_gets_a_sendable_answer() -> None:
    # The id is echoed back as it came (written with a \\u escape), the CALL answered.
    for text in (
        '[2,"\\ud800","Heartbeat",{}]',
        '[2,"1","\\ud800' + "A" * 100_000 + '",{}]',
        '[2,"1","Authorize",{"\\ud800\\u001b[31m":1,"idTag":"x"}]',
    ):
        _, answer = await stall(v16.ChargePoint, text, repeat=1)
        frame = json.loads(answer)
        assert frame[0] == 3 or len(frame[3]) <= 255, frame
        answer.encode()
    await trio.lowlevel.checkpoint()

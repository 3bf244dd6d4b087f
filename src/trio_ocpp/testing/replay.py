"""Replaying a recorded charge point against a central system, and what differed.

:func:`replay` reads a recording (:mod:`.record`), plays the charge point's frames in order
with a :class:`~.scripted.FakeChargePoint` (against a class in memory, or a live server's
URL), and compares what the central system does with what it did: the answer to each CALL
(CALLRESULT or CALLERROR, its error code, its payload) and each CALL it made (its action and
payload), which the fake answers as the charge point did. Date-times, UUIDs and the fields in
``ignore`` are normalised first: they differ from run to run. Message ids are not compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._core import errors
from .._core.frames import Call, CallError, CallResult, Frame, unpack
from .._runtime.charge_point import ChargePoint
from .frames_log import LEGEND
from .pair import Classes
from .scripted import TIME_LIMIT, ExpectationError, FakeChargePoint, fake_charge_point

__all__ = ["ReplayReport", "normalise", "read_recording", "replay"]

#: Fields whose values the central system chooses anew each time (1.6's transaction ids).
IGNORED = frozenset({"transactionId"})
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def read_recording(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a recording file."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def normalise(value: Any, ignore: frozenset[str] = IGNORED) -> Any:
    """``value`` with date-times, UUIDs and the ``ignore`` fields replaced by placeholders."""
    if isinstance(value, Mapping):
        return {k: "<ignored>" if k in ignore else normalise(v, ignore) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, ignore) for v in value]
    if isinstance(value, str):
        if _DATE_TIME.fullmatch(value):
            return "<date-time>"
        if _UUID.fullmatch(value):
            return "<uuid>"
    return value


def differences(recorded: Any, got: Any, path: str = "") -> list[str]:
    """Where ``got`` differs from ``recorded``, one line per field."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        lines = []
        for key in sorted(recorded.keys() | got.keys()):
            where = f"{path}.{key}" if path else key
            if key not in got:
                lines.append(f"{where}: recorded {recorded[key]!r}, missing now")
            elif key not in recorded:
                lines.append(f"{where}: not recorded, now {got[key]!r}")
            else:
                lines += differences(recorded[key], got[key], where)
        return lines
    if recorded != got:
        return [f"{path or 'payload'}: recorded {recorded!r}, got {got!r}"]
    return []


class ReplayReport:
    """What a replay found: ``ok`` when nothing differed; ``str()`` tells the differences."""

    def __init__(self, name: str, checked: int, found: list[str], fake: FakeChargePoint) -> None:
        self.name = name
        #: Answers and CALLs compared.
        self.checked = checked
        #: One line per difference.
        self.differences = found
        self.frames = fake.frames

    @property
    def ok(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.ok:
            return f"{self.name}: {self.checked} exchanges as recorded"
        listed = "\n".join(f"  {line}" for line in self.differences)
        return (
            f"{self.name}: {len(self.differences)} differences in {self.checked} exchanges\n"
            f"{listed}\n(#N: the recording's Nth line)\nframes of the replay ({LEGEND}):\n"
            f"{self.frames}"
        )

    def assert_ok(self) -> None:
        """Fail (AssertionError) with the differences, if there were any."""
        assert self.ok, str(self)


def _charge_point_sent(line: Mapping[str, Any]) -> bool:
    """Did the charge point send this recorded frame? (A server's inbound, a client's
    outbound.)"""
    return bool((line["side"] == "server") == (line["direction"] == "inbound"))


def _parse(line: Mapping[str, Any]) -> Frame | None:
    try:
        return unpack(line["frame"], line["version"])
    except errors.OCPPError:  # a recorded invalid frame is replayed as it was, not compared
        return None


def _shape(frame: Frame, ignore: frozenset[str]) -> dict[str, Any]:
    if isinstance(frame, CallError):
        return {"error": frame.error_code}
    assert isinstance(frame, CallResult | Call)
    return {"payload": normalise(frame.payload, ignore)}


async def replay(
    recording: str | Path | Iterable[Mapping[str, Any]],
    central_system: Classes[ChargePoint] | str,
    *,
    identity: str | None = None,
    time_limit: float = TIME_LIMIT,
    ignore: Iterable[str] = IGNORED,
    **options: Any,
) -> ReplayReport:
    """Play the charge point of ``recording`` (a file, or its lines) against
    ``central_system`` (a class, several, or a live server's URL) and compare (module
    docstring). ``identity``: the recorded one by default; ``options``: for the class."""
    name = str(recording) if isinstance(recording, str | Path) else "recording"
    lines = read_recording(recording) if isinstance(recording, str | Path) else list(recording)
    if not lines:
        raise ValueError(f"{name}: no frames")
    version, ignored = lines[0]["version"], frozenset(ignore)
    frames = [(_charge_point_sent(line), _parse(line), line["frame"]) for line in lines]
    answers = {
        f.unique_id: f
        for sent, f, _ in frames
        if not sent and isinstance(f, CallResult | CallError)
    }
    calls = {f.unique_id: f for sent, f, _ in frames if not sent and isinstance(f, Call)}
    found: list[str] = []
    checked = 0
    async with fake_charge_point(
        central_system, identity or lines[0]["identity"], version, time_limit=time_limit, **options
    ) as fake:
        for number, (sent, frame, text) in enumerate(frames, 1):
            if not sent:
                continue
            try:
                if isinstance(frame, Call):
                    checked += 1
                    label = f"#{number} {frame.action}"
                    got = await fake.send_raw(text)
                    recorded = answers.get(frame.unique_id)
                    assert got is not None
                    if recorded is None:
                        found.append(f"{label}: answered now, not in the recording")
                    else:
                        found += [
                            f"{label}: {d}"
                            for d in differences(_shape(recorded, ignored), _shape(got, ignored))
                        ]
                elif isinstance(frame, CallResult | CallError) and frame.unique_id in calls:
                    checked += 1
                    asked = calls[frame.unique_id]
                    label = f"#{number} {asked.action} (called by the central system)"
                    payload = await fake.expect_call(
                        asked.action,
                        reply=frame.payload if isinstance(frame, CallResult) else None,
                        error=frame.error_code if isinstance(frame, CallError) else None,
                    )
                    found += [
                        f"{label}: {d}"
                        for d in differences(
                            normalise(asked.payload, ignored), normalise(payload, ignored)
                        )
                    ]
                else:
                    await fake.send_raw(text, answer=False)
            except ExpectationError as exc:
                found.append(f"#{number}: {str(exc).splitlines()[0]}")
    return ReplayReport(name, checked, found, fake)

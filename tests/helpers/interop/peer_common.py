"""What the two ``ocpp``-package peers of test_interop share: output, timing, recording."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from ocpp.exceptions import OCPPError

#: Bounds the whole run, so that a stuck peer never hangs a test.
DEADLINE = 20


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}, default=str), flush=True)


async def error_of(cp: Any, payload: Any) -> dict[str, Any]:
    """The CALLERROR a call got, as its code and description."""
    try:
        result = await cp.call(payload, suppress=False)
    except OCPPError as exc:
        return {"code": exc.code, "description": exc.description}
    return {"code": None, "result": dataclasses.asdict(result)}


class Recorder:
    """Keeps what the handlers got, to print it at the end."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.received: list[dict[str, Any]] = []

    def record(self, action: str, **kwargs: Any) -> None:
        self.received.append({"action": action, "kwargs": kwargs})

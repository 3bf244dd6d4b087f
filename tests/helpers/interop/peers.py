"""Run a subprocess from a trio test: its output collected as it comes, every wait bounded.

``open_process(args)`` starts ``args`` with stdin, stdout and stderr piped and yields a
:class:`Process` whose ``stdout`` and ``stderr`` fill in the background; leaving the block kills
the process if it still runs. Waits raise AssertionError naming what was awaited and showing the
output so far, so that a failing test says what the peer did.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).parent
#: The CALLs of a 2.x charge point's session in the interop tests, in order: theirs
#: (ocpp_charge_point.py's exchange) and ours against their central system make the same.
SESSION_2X_CALLS = [
    "BootNotification",
    "Heartbeat",
    "Authorize",
    "TransactionEvent",
    "MeterValues",
    "TransactionEvent",
]


class Output:
    """Bytes read so far from one pipe, and a way to wait for more."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ended = False
        self._changed = trio.Event()

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    async def pump(self, stream: trio.abc.ReceiveStream) -> None:
        async with stream:
            async for chunk in stream:
                self.data += chunk
                self._changed.set()
                self._changed = trio.Event()
        self.ended = True
        self._changed.set()

    async def changed(self) -> None:
        await self._changed.wait()


class Process:
    def __init__(self, name: str, process: trio.Process) -> None:
        self.name = name
        self.process = process
        self.stdout = Output()
        self.stderr = Output()

    def report(self) -> str:
        return (
            f"{self.name} (returncode {self.process.returncode})\n"
            f"--- stdout:\n{self.stdout.text}\n--- stderr:\n{self.stderr.text}"
        )

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        what: str,
        timeout: float = 8,
        output: Output | None = None,
    ) -> Any:
        """Wait until ``predicate()`` returns something true, and return it."""
        output = output or self.stdout
        with trio.move_on_after(timeout):
            while True:
                result = predicate()
                if result:
                    return result
                if output.ended:
                    break
                await output.changed()
        raise AssertionError(f"{what}: not seen within {timeout} s\n{self.report()}")

    async def event(self, name: str, timeout: float = 8) -> dict[str, Any]:
        """The first JSON line ``{"event": name, ...}`` the process printed."""

        def find() -> dict[str, Any] | None:
            for line in self.stdout.text.splitlines():
                if line.startswith("{") and line.endswith("}"):
                    message: dict[str, Any] = json.loads(line)
                    if message.get("event") == name:
                        return message
            return None

        result: dict[str, Any] = await self.wait_for(find, f"event {name!r}", timeout)
        return result

    async def send_line(self, line: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(line.encode() + b"\n")

    async def wait(self, timeout: float = 8) -> int:
        with trio.move_on_after(timeout):
            return await self.process.wait()
        raise AssertionError(f"still running after {timeout} s\n{self.report()}")


async def _kill(process: trio.Process) -> None:
    # No grace period: these peers hold nothing worth a clean shutdown.
    process.send_signal(signal.SIGKILL)
    await process.wait()


@asynccontextmanager
async def open_process(args: Sequence[str], name: str | None = None) -> AsyncIterator[Process]:
    """Run ``args``; a leading ``"python"`` is this interpreter."""
    argv = [sys.executable if a == "python" else a for a in args]
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            partial(
                trio.run_process,
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
                deliver_cancel=_kill,
            )
        )
        proc = Process(name or " ".join(args), process)
        assert process.stdout is not None and process.stderr is not None
        nursery.start_soon(proc.stdout.pump, process.stdout)
        nursery.start_soon(proc.stderr.pump, process.stderr)
        try:
            yield proc
        finally:
            nursery.cancel_scope.cancel()


def script(name: str) -> str:
    """The path of a peer script in this folder."""
    return str(HERE / name)

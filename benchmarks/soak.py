"""Soak test: many charge points against one central system, on loopback, for a while.

    python benchmarks/soak.py --connections 1000 --seconds 60

The central system runs in a child process (this file with ``--serve``): the example
central system's 1.6 and 2.0.1 classes in a trio_ocpp Server. This process is the load: one trio
task per charge point, each over a TCP stream of its own (so that it can also misbehave),
sending everyday traffic (BootNotification, Heartbeat, MeterValues, StatusNotification) mixed
with bad frames, floods of them, oversized messages, abrupt disconnects, TCP resets, hang-ups
in the middle of a call and aborted handshakes, then reconnecting. It ends by itself, prints a
table and writes JSON (``benchmarks/results/soak.json``):

- calls answered, and valid calls left unanswered (must be 0);
- errors by kind, from both sides (the server's log records are counted by message);
- unexpected exceptions (must be 0): on the server, log records at ERROR with a traceback and
  tracebacks on its stderr; on the client, any answer, close or failure the rules do not
  predict;
- the server's RSS after warm-up and at the end (flat means within 10 % + 5 MB), and what is
  left on the server once every client has gone (connections, tasks, descriptors).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import trio
import trio_websocket
import wsproto.utilities

HOST = "127.0.0.1"
#: Consecutive invalid frames after which the server closes with 1002.
FLOOD = 5
MAX_MESSAGE_SIZE = 64 * 1024
#: The server's handshake timeout: an aborted handshake holds a task and a socket until then.
CONNECT_TIMEOUT = 5
#: Seconds a charge point waits for an answer before it counts as missing.
ANSWER_TIMEOUT = 10
RESULTS = Path(__file__).parent / "results" / "soak.json"

RPC_CODE = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError"}
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the central system (child process) ----------------------------------------------------------


class LogCounter(logging.Handler):
    """Counts log records by level and message; ERROR records with a traceback are unexpected."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kinds: Counter[str] = Counter()
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg).removeprefix("%s: ")  # one kind per message, not per peer
        self.kinds[f"{record.levelname} {message}"] += 1
        if record.levelno >= logging.ERROR and record.exc_info and len(self.tracebacks) < 1000:
            self.tracebacks.append(self.format(record))


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


async def serve() -> None:
    """The central system: commands on stdin ("stats", "stop"), JSON lines on stdout."""
    from trio_ocpp import Server
    from trio_ocpp.examples.central_system import CentralSystem16, CentralSystem201

    raise_fd_limit()
    counter = LogCounter()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.WARNING)  # no line per frame
    totals: Counter[str] = Counter()

    def counting(cls: type[Any]) -> type[Any]:
        """``cls`` adding its connection's statistics to ``totals`` when the connection ends."""

        async def start(self: Any) -> None:
            try:
                await cls.start(self)
            finally:
                stats = self.statistics()
                totals["connections"] += 1
                for name in ("frames_received", "frames_sent", "errors_sent", "invalid_frames"):
                    totals[name] += getattr(stats, name)

        return type(cls.__name__, (cls,), {"start": start})

    server = Server(
        [counting(CentralSystem16), counting(CentralSystem201)],
        charge_point_options={"max_invalid_frames": FLOOD, "ping_interval": 20},
    )

    def emit(event: str, **data: Any) -> None:
        print(json.dumps({"event": event, **data}), flush=True)

    def report() -> dict[str, Any]:
        return {
            "connections": len(server.charge_points),
            "tasks": task_count(),
            "open_files": open_files(),
            "totals": dict(totals),
            "log_records": dict(counter.kinds),
            "tracebacks": counter.tracebacks[:10],
            "traceback_count": len(counter.tracebacks),
        }

    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(
                server.run,
                HOST,
                0,
                max_message_size=MAX_MESSAGE_SIZE,
                connect_timeout=CONNECT_TIMEOUT,
            )
        )
        emit("listening", port=server.port, **report())
        async for command in lines(stdin):
            if command == "stats":
                emit("stats", **report())
            elif command == "memory":  # a full collection: too slow to do every second
                gc.collect()
                emit("memory", python_blocks=sys.getallocatedblocks(), **report())
            elif command == "stop":
                break
        nursery.cancel_scope.cancel()
    emit("stopped", **report())


async def lines(stream: trio.abc.ReceiveStream) -> AsyncIterator[str]:
    """The lines of ``stream``, without their newline, until it ends."""
    buffer = b""
    while True:
        while b"\n" not in buffer:
            data = await stream.receive_some()
            if not data:
                return
            buffer += data
        line, buffer = buffer.split(b"\n", 1)
        yield line.decode()


# -- the charge points (this process) ------------------------------------------------------------


class Unexpected(Exception):
    """Something the rules do not predict: counted, and the charge point reconnects."""


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


PAYLOADS: dict[str, dict[str, Callable[[], dict[str, Any]]]] = {
    "1.6": {
        "BootNotification": lambda: {"chargePointVendor": "Soak", "chargePointModel": "M"},
        "Heartbeat": dict,
        "MeterValues": lambda: {
            "connectorId": 1,
            "meterValue": [{"timestamp": now(), "sampledValue": [{"value": "1234.5"}]}],
        },
        "StatusNotification": lambda: {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Available",
        },
    },
    "2.0.1": {
        "BootNotification": lambda: {
            "reason": "PowerUp",
            "chargingStation": {"model": "M", "vendorName": "Soak"},
        },
        "Heartbeat": dict,
        "MeterValues": lambda: {
            "evseId": 1,
            "meterValue": [{"timestamp": now(), "sampledValue": [{"value": 1234.5}]}],
        },
        "StatusNotification": lambda: {
            "timestamp": now(),
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        },
    },
}


class Stats:
    """What the charge points saw."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()  # actions done, answers and closes by kind
        self.unexpected: Counter[str] = Counter()
        self.latencies: list[float] = []


class SessionEnded(Exception):
    """The session is over as planned (closed, reset, hung up): reconnect."""


class ChargePoint:
    """One simulated charge point: sessions of random traffic until the deadline."""

    def __init__(
        self, index: int, port: int, deadline: float, interval: float, stats: Stats
    ) -> None:
        self.identity = f"SOAK-{index:05d}"
        self.version = "1.6" if index % 2 else "2.0.1"
        self.port = port
        self.deadline = deadline
        self.interval = interval
        self.stats = stats
        self.random = random.Random(index)
        self.ids = 0
        self.invalid_in_a_row = 0  # bad frames sent since the last valid one
        self.ws: trio_websocket.WebSocketConnection
        self.stream: trio.SocketStream

    async def run(self) -> None:
        while trio.current_time() < self.deadline:
            try:
                await self.session()
            except OSError as exc:
                self.stats.unexpected[f"cannot connect: {exc}"] += 1
                await trio.sleep(1)

    async def session(self) -> None:
        self.stream = await trio.open_tcp_stream(HOST, self.port)
        try:
            async with trio.open_nursery() as nursery:
                # Caught here: out of the nursery they would come wrapped in an ExceptionGroup.
                try:
                    self.ws = await trio_websocket.wrap_client_stream(
                        nursery,
                        self.stream,
                        HOST,
                        f"/{self.identity}",
                        subprotocols=[SUBPROTOCOL[self.version]],
                    )
                    self.invalid_in_a_row = 0
                    await self.traffic()
                except SessionEnded:
                    pass
                except Unexpected as exc:
                    self.stats.unexpected[str(exc)] += 1
                except Exception as exc:  # a bug on either side: count it and carry on
                    self.stats.unexpected[f"{type(exc).__name__}: {exc}"[:120]] += 1
                nursery.cancel_scope.cancel()
        except* wsproto.utilities.LocalProtocolError:
            # trio-websocket #184: its reader answers a ping that crosses our close frame with a
            # pong, which wsproto refuses. A bug of the load generator's library: counted apart.
            self.stats.counts["trio-websocket #184 (pong after close) in the load"] += 1
        finally:
            await self.stream.aclose()
        self.stats.counts["sessions"] += 1

    async def traffic(self) -> None:
        await self.call("BootNotification")
        actions: dict[str, tuple[float, Callable[[], Awaitable[None]]]] = {
            "Heartbeat": (30, partial(self.call, "Heartbeat")),
            "MeterValues": (25, partial(self.call, "MeterValues")),
            "StatusNotification": (25, partial(self.call, "StatusNotification")),
            "malformed CALL": (3, self.malformed_call),
            "invalid payload": (2, self.invalid_payload),
            "unknown action": (2, self.unknown_action),
            "not JSON": (2, self.not_json),
            "unanswered garbage": (2, self.unanswered_garbage),
            "flood of bad frames": (0.5, self.flood),
            "oversized message": (0.3, self.oversized),
            "abrupt close": (1, partial(self.hang_up, "close")),
            "TCP reset": (1, partial(self.hang_up, "reset")),
            "hang-up mid-call": (1, self.hang_up_mid_call),
            "graceful close": (1, self.graceful_close),
            "aborted handshake": (0.5, self.aborted_handshake),
        }
        names = list(actions)
        weights = [weight for weight, _ in actions.values()]
        while True:
            await trio.sleep(self.random.uniform(0, 2 * self.interval))
            if trio.current_time() >= self.deadline:
                break
            name = self.random.choices(names, weights)[0]
            self.stats.counts[f"sent: {name}"] += 1
            await actions[name][1]()
        await self.ws.aclose()

    # -- talking -------------------------------------------------------------------------------

    def next_id(self) -> str:
        self.ids += 1
        return str(self.ids)

    async def send(self, frame: Any, *, valid: bool) -> None:
        if not valid and self.invalid_in_a_row + 1 >= FLOOD:
            # Only a flood may close the connection: break the run of bad frames first.
            await self.call("Heartbeat")
        self.invalid_in_a_row = 0 if valid else self.invalid_in_a_row + 1
        try:
            await self.ws.send_message(
                frame if isinstance(frame, str | bytes) else json.dumps(frame)
            )
        except trio_websocket.ConnectionClosed as exc:
            raise Unexpected(f"closed while sending: {exc.reason}") from None

    async def receive(self, what: str) -> list[Any]:
        with trio.move_on_after(ANSWER_TIMEOUT):
            try:
                return json.loads(await self.ws.get_message())  # type: ignore[no-any-return]
            except trio_websocket.ConnectionClosed as exc:
                code = exc.reason.code if exc.reason else None
                raise Unexpected(f"closed waiting for the answer to {what}: {code}") from None
        raise Unexpected(f"no answer to {what} within {ANSWER_TIMEOUT} s")

    async def call(self, action: str) -> None:
        unique_id = self.next_id()
        await self.send([2, unique_id, action, PAYLOADS[self.version][action]()], valid=True)
        self.stats.counts["valid calls"] += 1
        sent = trio.current_time()
        reply = await self.receive(action)
        if reply[:2] != [3, unique_id]:
            raise Unexpected(f"{action}: expected its CALLRESULT, got {str(reply)[:80]}")
        self.stats.latencies.append(trio.current_time() - sent)
        self.stats.counts["valid calls answered"] += 1

    async def expect_error(self, frame: Any, unique_id: str, code: str, *, valid: bool) -> None:
        await self.send(frame, valid=valid)
        reply = await self.receive(f"a bad frame ({code})")
        if reply[:3] != [4, unique_id, code]:
            raise Unexpected(f"expected CALLERROR {unique_id} {code}, got {str(reply)[:80]}")
        self.stats.counts[f"CALLERROR {code}"] += 1

    async def expect_close(self, code: int) -> None:
        try:
            with trio.fail_after(ANSWER_TIMEOUT):
                while True:
                    reply = json.loads(await self.ws.get_message())
                    if reply[:2] != [4, "-1"]:
                        raise Unexpected(f"expected close {code}, got {str(reply)[:80]}")
        except trio_websocket.ConnectionClosed as exc:
            got = exc.reason.code if exc.reason else None
            if got != code:
                raise Unexpected(f"expected close {code}, got close {got}") from None
        except trio.TooSlowError:
            raise Unexpected(f"no close {code} within {ANSWER_TIMEOUT} s") from None
        self.stats.counts[f"closed by the server: {code}"] += 1
        raise SessionEnded

    # -- misbehaving ---------------------------------------------------------------------------

    async def malformed_call(self) -> None:
        unique_id = self.next_id()
        if self.random.random() < 0.5:
            # 1.6 calls a CALL with too few elements a ProtocolError.
            code = "ProtocolError" if self.version == "1.6" else RPC_CODE[self.version]
            await self.expect_error([2, unique_id, "Heartbeat"], unique_id, code, valid=False)
        else:
            frame = [2, unique_id, 7, {}]  # the action is not a string
            await self.expect_error(frame, unique_id, RPC_CODE[self.version], valid=False)

    async def invalid_payload(self) -> None:
        unique_id = self.next_id()
        payload = PAYLOADS[self.version]["StatusNotification"]()
        payload["status" if self.version == "1.6" else "connectorStatus"] = "Sleeping"
        frame = [2, unique_id, "StatusNotification", payload]
        await self.expect_error(frame, unique_id, "PropertyConstraintViolation", valid=True)

    async def unknown_action(self) -> None:
        unique_id = self.next_id()
        frame = [2, unique_id, "MakeCoffee", {}]
        await self.expect_error(frame, unique_id, "NotImplemented", valid=True)

    async def not_json(self) -> None:
        await self.expect_error('[2, "1", "Heart', "-1", RPC_CODE[self.version], valid=False)

    async def unanswered_garbage(self) -> None:
        # Never answered; the answer to the next CALL being the next message checks that.
        garbage: list[Any] = [[3, "x"], b"\x00\x01binary", [4, "x", "GenericError"]]
        if self.version == "1.6":
            garbage.append([9, "unknown message type"])
        await self.send(self.random.choice(garbage), valid=False)
        await self.call("Heartbeat")

    async def flood(self) -> None:
        for _ in range(FLOOD):
            self.invalid_in_a_row = 0  # this run of bad frames is meant to close
            await self.send("junk", valid=False)
        await self.expect_close(1002)

    async def oversized(self) -> None:
        await self.send("x" * (MAX_MESSAGE_SIZE + 1), valid=True)
        await self.expect_close(1009)

    async def hang_up(self, how: str) -> None:
        if how == "reset":  # SO_LINGER 0: closing sends RST instead of FIN
            self.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self.stream.aclose()
        raise SessionEnded

    async def hang_up_mid_call(self) -> None:
        await self.send([2, self.next_id(), "Heartbeat", {}], valid=True)
        await self.hang_up(self.random.choice(["close", "reset"]))

    async def graceful_close(self) -> None:
        await self.ws.aclose()
        raise SessionEnded

    async def aborted_handshake(self) -> None:
        # A second TCP connection that gives up halfway through its upgrade request.
        async with await trio.open_tcp_stream(HOST, self.port) as stream:
            await stream.send_all(f"GET /{self.identity} HTTP/1.1\r\nHost: ".encode())


# -- the run -------------------------------------------------------------------------------------


class CentralSystemProcess:
    """The child process running the central system, and its stdout protocol."""

    def __init__(self, process: trio.Process, stderr: Any) -> None:
        self.process = process
        self.stderr = stderr
        assert process.stdout is not None
        self._lines = lines(process.stdout)

    @classmethod
    async def start(cls, stderr: Any) -> CentralSystemProcess:
        process = await trio.lowlevel.open_process(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        return cls(process, stderr)

    async def event(self) -> dict[str, Any]:
        with trio.fail_after(30):
            line = await self._lines.__anext__()
        return json.loads(line)  # type: ignore[no-any-return]

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        with trio.CancelScope(shield=True):  # a question without its answer would desync
            await self.process.stdin.send_all(f"{command}\n".encode())
            reply = await self.event()
        return reply

    def rss_kb(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")  # type: ignore[no-any-return]


async def soak(connections: int = 1000, seconds: float = 60, interval: float = 1) -> dict[str, Any]:
    """Run the soak; ``interval``: mean seconds between two actions of one charge point."""
    raise_fd_limit()
    with tempfile.TemporaryFile() as stderr:
        return await _soak(connections, seconds, interval, stderr)


async def _soak(connections: int, seconds: float, interval: float, stderr: Any) -> dict[str, Any]:
    server = await CentralSystemProcess.start(stderr)
    stats = Stats()
    samples: list[dict[str, float]] = []
    try:
        listening = await server.event()
        start = trio.current_time()
        deadline = start + seconds
        ramp = min(10, seconds / 5)  # connect gradually, not all in the same millisecond
        warm_up = seconds / 4

        async def sample() -> None:
            period = min(1, seconds / 20)
            while True:
                t = trio.current_time() - start
                # Live Python memory once after warm-up and once just before the end.
                first = t >= warm_up and not any("python_blocks" in s for s in samples)
                command = "memory" if first or t + period >= seconds else "stats"
                reply = await server.ask(command)
                sample = {"t": round(t, 1), "rss_kb": server.rss_kb()}
                sample["connections"] = reply["connections"]
                if command == "memory":
                    sample["python_blocks"] = reply["python_blocks"]
                samples.append(sample)
                await trio.sleep(period)

        async def charge_point(index: int) -> None:
            await trio.sleep(ramp * index / connections)
            await ChargePoint(index, listening["port"], deadline, interval, stats).run()

        async with trio.open_nursery() as sampler:
            sampler.start_soon(sample)
            async with trio.open_nursery() as load:
                for index in range(connections):
                    load.start_soon(charge_point, index)
            sampler.cancel_scope.cancel()
        elapsed = trio.current_time() - start
        # Until the server has noticed the last disconnects, and the handshakes that were
        # aborted have timed out: then it must be back to what it was before the load.
        with trio.move_on_after(CONNECT_TIMEOUT + 10):
            while True:
                drained = await server.ask("stats")
                if (drained["connections"], drained["tasks"], drained["open_files"]) == (
                    0,
                    listening["tasks"],
                    listening["open_files"],
                ):
                    break
                await trio.sleep(0.2)
        rss_drained = server.rss_kb()
        stopped = await server.ask("stop")
        with trio.fail_after(10):
            await server.process.wait()
    finally:
        if server.process.returncode is None:
            server.process.kill()
    stderr = server.stderr_text()
    return summarize(
        connections=connections,
        seconds=seconds,
        interval=interval,
        elapsed=elapsed,
        stats=stats,
        listening=listening,
        drained=drained,
        stopped=stopped,
        samples=samples,
        warm_up=warm_up,
        rss_drained=rss_drained,
        stderr=stderr,
    )


def summarize(
    *,
    connections: int,
    seconds: float,
    interval: float,
    elapsed: float,
    stats: Stats,
    listening: dict[str, Any],
    drained: dict[str, Any],
    stopped: dict[str, Any],
    samples: list[dict[str, float]],
    warm_up: float,
    rss_drained: int,
    stderr: str,
) -> dict[str, Any]:
    counts = stats.counts
    latencies = sorted(stats.latencies) or [0.0]
    warm, end = [s for s in samples if "python_blocks" in s][:2]
    rss_warm, rss_end = int(warm["rss_kb"]), int(end["rss_kb"])
    server_unexpected = stopped["traceback_count"] + stderr.count("Traceback (most recent")
    return {
        "connections": connections,
        "seconds": seconds,
        "interval": interval,
        "elapsed": round(elapsed, 1),
        "valid_calls": counts["valid calls"],
        "valid_calls_answered": counts["valid calls answered"],
        "valid_calls_unanswered": counts["valid calls"] - counts["valid calls answered"],
        "calls_per_second": round(counts["valid calls answered"] / elapsed),
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
            "max": round(1000 * latencies[-1], 1),
        },
        "client": dict(sorted(counts.items())),
        "server_log_records": dict(sorted(stopped["log_records"].items())),
        "server_totals": stopped["totals"],
        "unexpected_exceptions": {
            "client": sum(stats.unexpected.values()),
            "server": server_unexpected,
        },
        "client_unexpected": dict(stats.unexpected.most_common(20)),
        "server_tracebacks": stopped["tracebacks"],
        "server_stderr_tail": stderr[-3000:],
        "rss_kb": {
            "warm_up": rss_warm,
            "end": rss_end,
            "max": max(int(s["rss_kb"]) for s in samples),
            "after_drain": rss_drained,
            "growth_percent": round(100 * (rss_end - rss_warm) / rss_warm, 1),
            "flat": rss_end <= rss_warm * 1.10 + 5 * 1024,
        },
        # Live Python memory blocks (after a collection): a leak grows these, fragmentation not.
        "python_blocks": {"warm_up": warm["python_blocks"], "end": end["python_blocks"]},
        "samples": samples,
        "server_after_drain": {
            "connections": drained["connections"],
            "tasks": {"idle": listening["tasks"], "after": drained["tasks"]},
            "open_files": {"idle": listening["open_files"], "after": drained["open_files"]},
        },
    }


def table(result: dict[str, Any]) -> str:
    rss, lat, left = result["rss_kb"], result["latency_ms"], result["server_after_drain"]
    blocks = result["python_blocks"]
    rows = [
        (
            "load",
            f"{result['connections']} connections x {result['seconds']:g} s, "
            f"one action per {result['interval']:g} s on average; ran {result['elapsed']} s",
        ),
        (
            "valid calls answered",
            f"{result['valid_calls_answered']:,} of "
            f"{result['valid_calls']:,} ({result['calls_per_second']:,}/s)",
        ),
        ("valid calls unanswered", f"{result['valid_calls_unanswered']}"),
        ("latency", f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms"),
        (
            "unexpected exceptions",
            f"client {result['unexpected_exceptions']['client']}, "
            f"server {result['unexpected_exceptions']['server']}",
        ),
        (
            "server RSS",
            f"{rss['warm_up'] / 1024:.1f} MB after warm-up -> "
            f"{rss['end'] / 1024:.1f} MB at the end ({rss['growth_percent']:+}%, "
            f"{'flat' if rss['flat'] else 'NOT FLAT'}); max {rss['max'] / 1024:.1f} MB, "
            f"{rss['after_drain'] / 1024:.1f} MB once all disconnected",
        ),
        (
            "server Python blocks",
            f"{blocks['warm_up']:,} after warm-up -> {blocks['end']:,} at the end",
        ),
        (
            "server after drain",
            f"{left['connections']} connections, tasks "
            f"{left['tasks']['idle']} idle -> {left['tasks']['after']}, descriptors "
            f"{left['open_files']['idle']} idle -> {left['open_files']['after']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    out = [f"{name:<{width}}  {value}" for name, value in rows]
    for title, counts in [
        ("client, by kind", result["client"]),
        ("server log records, by kind", result["server_log_records"]),
        ("client unexpected", result["client_unexpected"]),
    ]:
        if counts:
            out.append(f"\n{title}:")
            out.extend(f"  {count:>9,}  {kind}" for kind, count in counts.items())
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/soak.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--connections", type=int, default=1000, help="charge points (1000)")
    parser.add_argument("--seconds", type=float, default=60, help="how long (60)")
    parser.add_argument(
        "--interval", type=float, default=1, help="mean seconds between actions (1)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve)
        return
    result = trio.run(partial(soak, args.connections, args.seconds, args.interval))
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"\nwritten to {args.output}")
    unexpected = result["unexpected_exceptions"]
    sys.exit(
        1 if unexpected["client"] or unexpected["server"] or result["valid_calls_unanswered"] else 0
    )


if __name__ == "__main__":
    main()

"""The attacks of ``python -m benchmarks.attack`` on a cluster node's event stream.

The server under attack is a node (``--cluster`` with ``--cluster-events``) on a redis-server of
the attack's own. What is checked besides the good charge points: whether a billing consumer
still reads VICTIM's events after one charge point flooded the stream, and how much memory
Redis and the node take for events.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import uuid
from typing import Any

import attrs
import trio

from .hostile import BIG_VALID, HUNG_UP, PASSWORD, TIMESTAMP, Raw, Tally, Target, upgraded
from .loadgen import masked_frame

VICTIM = "VICTIM"
#: The actions the node appends to its stream.
EVENTS = "BootNotification,StopTransaction,MeterValues"


#: Small valid MeterValues with ids of their own (a duplicate id in flight is refused).
def _meter_values(i: int) -> bytes:
    sampled = {"timestamp": TIMESTAMP, "sampledValue": [{"value": str(i)}]}
    payload = {"connectorId": 1, "meterValue": [sampled]}
    return masked_frame(json.dumps([2, f"m{i}", "MeterValues", payload]))


_FLOOD = [_meter_values(i) for i in range(64)]


@attrs.define
class RedisProcess:
    """A redis-server of the attack's own: a free port, nothing on disk; stopped and started
    again by the attack on the node's outage buffer."""

    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


REDIS = RedisProcess()


async def redis_used_memory(port: int) -> int | None:
    """Redis' ``used_memory`` (bytes), by an inline INFO command; None if it does not answer."""
    try:
        with trio.fail_after(2):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(b"INFO memory\r\n")
                data = b""
                while b"used_memory:" not in data or not data.endswith(b"\r\n"):
                    chunk = await stream.receive_some()
                    if not chunk:
                        break
                    data += chunk
    except (OSError, trio.TooSlowError, *HUNG_UP):
        return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return None


#: MeterValues the flood sends: more than the stream held at 991db0a (100,000 entries).
FLOOD = 110_000


async def _flood(port: int, sent: Tally, window: int = 16) -> None:
    """The attacker's charge point: ``FLOOD`` valid MeterValues, ``window`` in flight, as fast
    as the node answers them."""
    with contextlib.suppress(*HUNG_UP):
        await _flood_on(await upgraded(port), sent, window)


async def _flood_on(raw: Raw, sent: Tally, window: int) -> None:
    try:
        for start in range(0, FLOOD, window):
            batch = [_FLOOD[i % len(_FLOOD)] for i in range(start, start + window)]
            await raw.stream.send_all(b"".join(batch))
            sent.add(window)
            answered = 0
            while answered < window:
                data = await raw.stream.receive_some(65536)
                if not data:
                    return
                answered += data.count(b'[3,"m') + data.count(b'[4,"m')
    finally:
        await raw.aclose()


async def _victim(port: int) -> bool:
    """VICTIM boots and ends a transaction: two billing events. Whether both were answered."""
    from trio_ocpp import connect, v16

    with trio.move_on_after(10), contextlib.suppress(Exception):
        async with connect(f"ws://127.0.0.1:{port}", v16.ChargePoint, identity=VICTIM,
                           basic_auth=PASSWORD) as cp:  # fmt: skip
            await cp.call(
                v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            await cp.call(
                v16.call.StopTransaction(meter_stop=1000, timestamp=TIMESTAMP, transaction_id=1)
            )
            return True
    return False  # refused, timed out, or not answered


async def _read_group(events: Any) -> tuple[int, int]:
    """Every event the group still has for it: (all, VICTIM's)."""
    total = victims = 0
    with trio.move_on_after(60):
        while True:
            with trio.move_on_after(3) as idle:
                event = await events.__anext__()
            if idle.cancelled_caught:
                break
            total += 1
            victims += event.identity == VICTIM
            await events.ack(event)
    return total, victims


async def event_flood(target: Target, sent: Tally) -> None:
    """One charge point floods the stream with valid MeterValues (``FLOOD`` of them, however
    long that takes); a billing consumer group made before VICTIM's BootNotification and
    StopTransaction must still read both afterwards."""
    from trio_ocpp import cluster

    assert target.redis_url is not None
    group = f"billing-{uuid.uuid4().hex[:8]}"
    async with (
        cluster.connect(target.redis_url) as app,
        app.events(group=group, consumer="c1", start="$", count=1000) as events,
    ):
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_flood, target.port, sent)
                await trio.sleep(0.5)
                sent.findings["victim_answered"] = await _victim(target.port)
        finally:
            with trio.CancelScope(shield=True):
                total, victims = await _read_group(events)
                sent.findings.update(group_read=total, victim_events=f"{victims}/2")


async def big_events(target: Target, sent: Tally) -> None:
    """Valid 0.87 MB MeterValues, one after another: every one is an event."""
    before = await redis_used_memory(REDIS.port)
    try:
        raw = await upgraded(target.port)
        try:
            while True:
                await raw.send(BIG_VALID)
                sent.add()
                if not await raw.read(10):
                    return
        finally:
            await raw.aclose()
    finally:
        with trio.CancelScope(shield=True):
            after = await redis_used_memory(REDIS.port)
            if before is not None and after is not None:
                sent.findings["redis_mb"] = f"{before / 2**20:.0f} -> {after / 2**20:.0f}"


async def big_events_redis_down(target: Target, sent: Tally) -> None:
    """The same with Redis unreachable: the node buffers what it cannot append."""
    REDIS.stop()
    try:
        await big_events(target, sent)
    finally:
        REDIS.start()

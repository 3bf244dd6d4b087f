"""Hostile peers against the example central system: are the good charge points still served?

    python -m benchmarks.attack                  # every class of attack, 5 s each
    python -m benchmarks.attack --seconds 2 --only held_slots,never_booting
    python -m benchmarks.attack --server-src ../old/src     # the same against another version

Two servers run in child processes on loopback, as an operator would run them
(``python -m trio_ocpp`` with its defaults, Basic auth for every identity the run uses, the log
at WARNING, a descriptor limit of 2,048): a plain one, which is also a cluster node appending
BootNotification, StopTransaction and MeterValues to the event stream of a redis-server of the
run's own, and a TLS one (security profile 2). Good charge points (``GOOD_n``) keep booting on
both, reconnecting every 20 calls. For each class of attack in turn (``hostile.py``,
``hostile_events.py``), attackers from the same address run for ``--seconds`` against one of
the servers; then everyone stops for a moment.

Printed per class: the good charge points' calls on the attacked server (served %, answered,
failed, p50 and p99), the server's RSS and descriptors before, at the peak and after, the log
it wrote (KB, lines, tracebacks), and what the class found (VICTIM's events kept by a billing
consumer, Redis memory). The run ends with each server's state once every attacker has gone.
It exits non-zero if a server died or logged a traceback, or if the good charge points were
served less than 99% in a class. JSON: ``benchmarks/results/attack.json``. The TLS classes need
trustme, the event classes redis-server and valkey-glide; missing, they are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from . import hostile, hostile_events
from .connections import rss_bytes
from .hostile import HOST, PASSWORD, Attack, Tally, Target, rounds
from .loadgen import raise_fd_limit

RESULTS = Path(__file__).parent / "results" / "attack.json"
#: A typical descriptor limit of a server process (systemd's default soft limit is 1,024).
SERVER_FDS = 2048
#: The least share of the good charge points' calls answered in any class.
SERVED = 0.99

#: name: (the attack, the server it attacks: "plain" or "tls").
ATTACKS: dict[str, tuple[Attack, str]] = {
    "bad_targets": (rounds(hostile.bad_targets, 2), "plain"),
    "non_ascii_headers": (rounds(hostile.non_ascii_headers, 2), "plain"),
    "connect_reset": (rounds(hostile.connect_reset, 8), "plain"),
    "surrogates": (rounds(hostile.surrogates, 2), "plain"),
    "big_invalid_payloads": (rounds(hostile.big_invalid_payloads, 4), "plain"),
    "deep_nesting": (rounds(hostile.deep_nesting, 2), "plain"),
    "odd_identities": (rounds(hostile.odd_identities, 2), "plain"),
    "unanswerable": (rounds(hostile.unanswerable, 2), "plain"),
    "long_action": (rounds(hostile.long_action, 2), "plain"),
    "duplicate_identity": (rounds(hostile.duplicate_identity, 2), "plain"),
    "wrong_passwords": (rounds(hostile.wrong_passwords, 4), "plain"),
    "protocol_errors": (rounds(hostile.protocol_errors, 2), "plain"),
    "pipelined_frames": (rounds(hostile.pipelined_frames, 4), "plain"),
    "held_slots": (hostile.held_slots, "plain"),
    "tls_dribble": (hostile.tls_dribble, "tls"),
    "never_booting": (hostile.never_booting, "plain"),
    "fragment_hoarding": (hostile.fragment_hoarding, "plain"),
    "event_flood": (hostile_events.event_flood, "plain"),
    "big_events": (hostile_events.big_events, "plain"),
    "big_events_redis_down": (hostile_events.big_events_redis_down, "plain"),
}
#: Classes that take as long as they need (at most this long) rather than ``--seconds``.
LONGER = {"event_flood": 90.0}
NEEDS_TLS = {"tls_dribble"}
NEEDS_CLUSTER = {"event_flood", "big_events", "big_events_redis_down"}


# -- the good charge points -----------------------------------------------------------------------


class Good:
    """Well-behaved charge points: each boots over and over, reconnecting every 20 calls."""

    def __init__(self, url: str, identities: list[str], tls: ssl.SSLContext | None) -> None:
        self.url = url
        self.identities = identities
        self.tls = tls
        self.latencies: list[float] = []
        self.failures = 0

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for identity in self.identities:
                nursery.start_soon(self._one, identity)

    async def _one(self, identity: str) -> None:
        from trio_ocpp import connect, v16

        boot = v16.call.BootNotification(charge_point_vendor="V", charge_point_model="M")
        while True:
            try:
                async with connect(self.url, v16.ChargePoint, identity=identity,
                                   basic_auth=PASSWORD, ssl_context=self.tls,
                                   response_timeout=5, connect_timeout=5) as cp:  # fmt: skip
                    for _ in range(20):
                        started = time.perf_counter()
                        await cp.call(boot)
                        self.latencies.append(time.perf_counter() - started)
                        await trio.sleep(0.05)
            except Exception:  # a timeout, a refusal, a closed connection: all count as failed
                self.failures += 1
                await trio.sleep(0.1)

    def take(self) -> dict[str, Any]:
        got, self.latencies = sorted(self.latencies), []
        failures, self.failures = self.failures, 0

        def quantile(q: float) -> float | None:
            return got[min(len(got) - 1, int(q * len(got)))] * 1000 if got else None

        served = len(got) / (len(got) + failures) if got or failures else None
        return {"served": served, "answered": len(got), "failed": failures,
                "p50_ms": quantile(0.5), "p99_ms": quantile(0.99)}  # fmt: skip


# -- the servers ----------------------------------------------------------------------------------


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FDS, SERVER_FDS))


@attrs.define
class Server:
    """An example central system in a child process, its log in a file."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]
    good: Good

    def state(self) -> dict[str, Any]:
        alive = self.process.poll() is None
        pid = self.process.pid
        return {
            "alive": alive,
            "rss_mb": rss_bytes(pid) / 2**20 if alive else None,
            "fds": open_fds(pid) if alive else None,
        }


@contextmanager
def server(name: str, folder: Path, flags: list[str], src: str | None, tls: ssl.SSLContext | None,
           identities: list[str]) -> Iterator[Server]:  # fmt: skip
    port = free_port()
    log = folder / f"{name}.log"
    command = [sys.executable, "-m", "trio_ocpp", "--host", HOST, "--port", str(port),
               "--log-level", "WARNING", *flags]  # fmt: skip
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=_limit_descriptors)  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex((HOST, port)) == 0:
                    break
            time.sleep(0.1)
        scheme = "wss" if tls else "ws"
        yield Server(name, port, log, process, Good(f"{scheme}://{HOST}:{port}", identities, tls))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def tls_contexts(folder: Path) -> tuple[list[str], ssl.SSLContext] | None:
    """The TLS server's flags and a context that trusts it; None without trustme."""
    try:
        import trustme
    except ImportError:
        return None
    ca = trustme.CA()
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return ["--certfile", str(folder / "server.pem")], context


def cluster_ready() -> bool:
    try:
        import glide  # noqa: F401
    except ImportError:
        return False
    return shutil.which("redis-server") is not None


# -- the run --------------------------------------------------------------------------------------


async def attack(target: Target, name: str, seconds: float, watched: Server) -> dict[str, Any]:
    """Run one class for ``seconds``: the row of the table."""
    one, _ = ATTACKS[name]
    sent = Tally()
    peak = 0.0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_bytes(watched.process.pid) / 2**20)
            await trio.sleep(0.2)

    before = watched.state()
    log_start = watched.log.stat().st_size
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        with trio.move_on_after(LONGER.get(name, seconds)):
            await one(target, sent)
        nursery.cancel_scope.cancel()
    during = watched.good.take()
    await trio.sleep(1)  # the attackers are gone: the server settles
    after = watched.state()
    text = watched.log.read_bytes()[log_start:]
    return {
        "attack": name,
        "server": watched.name,
        "sent": sent.n,
        **during,
        "alive": after["alive"],
        "rss_mb_before": before["rss_mb"],
        "rss_mb_peak": peak,
        "rss_mb_after": after["rss_mb"],
        "fds_before": before["fds"],
        "fds_after": after["fds"],
        "log_kb": len(text) / 1024,
        "log_lines": text.count(b"\n"),
        "tracebacks": text.count(b"Traceback"),
        **sent.findings,
    }


async def run(names: list[str], seconds: float, target: Target,
              servers: dict[str, Server]) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    async with trio.open_nursery() as nursery:
        for each in servers.values():
            nursery.start_soon(each.good.run)
        await trio.sleep(1)
        for each in servers.values():
            each.good.take()
        for name in names:
            watched = servers[ATTACKS[name][1]]
            row = await attack(target, name, seconds, watched)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not row["alive"]:
                break
        nursery.cancel_scope.cancel()
    return rows


def settle(servers: dict[str, Server], baseline: dict[str, int]) -> dict[str, Any]:
    """Each server once the attackers are gone (up to 15 s for those the password throttle
    still holds)."""
    settled = time.monotonic() + 15
    end = {}
    for name, each in servers.items():
        while (
            each.process.poll() is None
            and open_fds(each.process.pid) > baseline[name]
            and time.monotonic() < settled
        ):
            time.sleep(0.2)
        end[name] = each.state()
    return end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.attack", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=5, help="per class of attack (5)")
    parser.add_argument("--only", help="comma-separated classes: " + ", ".join(ATTACKS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    parser.add_argument("--server-src", help="run the servers from this source folder")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(ATTACKS)
    unknown = set(names) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks: {', '.join(sorted(unknown))}")
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        folder = Path(scratch)
        logs = args.logs or folder
        logs.mkdir(parents=True, exist_ok=True)
        identities = ["GOOD_0", "GOOD_1", "GOOD_2", "GOOD_3", "GOOD_4", "GOOD_5",
                      hostile_events.VICTIM, hostile.ATTACKER, *hostile.HELD]  # fmt: skip
        passwords = folder / "passwords"
        passwords.write_text("".join(f"{i}:{PASSWORD}\n" for i in identities))
        flags = ["--basic-auth", str(passwords)]
        skipped = []
        plain = list(flags)
        if cluster_ready():
            hostile_events.REDIS.start()
            stack.callback(hostile_events.REDIS.stop)
            plain += ["--cluster", hostile_events.REDIS.url,
                      "--cluster-events", hostile_events.EVENTS]  # fmt: skip
            target = Target(0, redis_url=hostile_events.REDIS.url)
        else:
            skipped += sorted(NEEDS_CLUSTER & set(names))
            target = Target(0)
        servers = {"plain": stack.enter_context(
            server("plain", logs, plain, args.server_src, None, identities[:4]))}  # fmt: skip
        target.port = servers["plain"].port
        tls = tls_contexts(folder)
        if tls is None:
            skipped += sorted(NEEDS_TLS & set(names))
        elif NEEDS_TLS & set(names):
            each = stack.enter_context(
                server("tls", logs, flags + tls[0], args.server_src, tls[1], identities[4:6])
            )
            servers["tls"] = each
            target.tls_port, target.tls = each.port, tls[1]
        names = [name for name in names if name not in skipped]
        baseline = {name: open_fds(each.process.pid) for name, each in servers.items()}
        rows = trio.run(run, names, args.seconds, target, servers)
        end = settle(servers, baseline)
    print(table(rows))
    print("servers at the end:", json.dumps(end))
    if skipped:
        print("skipped (trustme, redis-server or valkey-glide missing):", ", ".join(skipped))
    short = [row["attack"] for row in rows if (row["served"] or 0) < SERVED]
    print(f"good charge points served >= {SERVED:.0%} in every class:",
          "yes" if not short else "no: " + ", ".join(short))  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"seconds_each": args.seconds, "attacks": rows, "end": end}, indent=2)
    )
    healthy = all(state["alive"] for state in end.values()) and not any(
        row["tracebacks"] for row in rows
    )
    return 0 if healthy and not short else 1


def table(rows: list[dict[str, Any]]) -> str:
    columns = {
        "attack": "attack", "server": "server", "sent": "sent", "served": "served %",
        "answered": "answered", "failed": "failed", "p50_ms": "p50 ms", "p99_ms": "p99 ms",
        "rss_mb_before": "RSS MB before", "rss_mb_peak": "peak", "rss_mb_after": "after",
        "fds_before": "fds before", "fds_after": "after", "log_kb": "log KB",
        "log_lines": "lines", "tracebacks": "tracebacks",
    }  # fmt: skip

    def cell(key: str, row: dict[str, Any]) -> str:
        value = row.get(key)
        if key == "served" and value is not None:
            return f"{value:.1%}"
        return f"{value:.1f}" if isinstance(value, float) else "" if value is None else str(value)

    cells = [[cell(k, row) for k in columns] for row in rows]
    headers = list(columns.values())
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(headers)]  # fmt: skip
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    found = [f"{row['attack']}: " + ", ".join(f"{k} {row[k]}" for k in sorted(extra))
             for row in rows if (extra := set(row) - set(columns) - {"alive"})]  # fmt: skip
    return "\n".join(lines + found)


if __name__ == "__main__":
    sys.exit(main())

"""Slowing down password guessing (issue 12, item 8): AuthThrottle alone, then in the server's
``authenticate`` on trio's autojump clock."""

from __future__ import annotations

import logging

import pytest
import trio

from trio_ocpp._core.auth import basic_auth_header
from trio_ocpp._core.logsafe import RepeatLimiter
from trio_ocpp._core.throttle import AuthThrottle
from trio_ocpp._server.upgrade import RejectConnection, authenticate

WARNINGS = RepeatLimiter(logging.getLogger("trio_ocpp.server"), "server")

A, B = "192.0.2.1", "198.51.100.7"


def test_failures_past_the_free_ones_double_the_delay_up_to_the_cap() -> None:
    throttle = AuthThrottle(free_failures=3, base_delay=1, max_delay=10)
    delays = [throttle.attempt("CP_1", A, now=0) for _ in range(9)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 10, 10]


def test_counts_are_forgiven_with_time() -> None:
    throttle = AuthThrottle(free_failures=2, forgive_after=60, base_delay=1)
    for _ in range(4):
        throttle.attempt("CP_1", A, now=0)
    assert throttle.attempt("CP_1", A, now=0) == 4
    assert throttle.attempt("CP_1", A, now=60 * 10) == 0  # 10 forgiven, 1 counted now


def test_a_success_takes_its_count_back() -> None:
    throttle = AuthThrottle(free_failures=1)
    for _ in range(10):
        assert throttle.attempt("CP_1", A, now=0) == 0
        throttle.succeeded("CP_1", now=0)


def test_parallel_attempts_see_each_other() -> None:
    # Many connections at once: each is counted before any password is checked.
    throttle = AuthThrottle(free_failures=2, base_delay=1, max_delay=1000)
    delays = sorted(throttle.attempt("CP_1", f"192.0.2.{i}", now=0) for i in range(8))
    assert delays == [0, 0, 1, 2, 4, 8, 16, 32]


def failed_attempt(throttle: AuthThrottle, identity: str, address: str) -> float:
    delay = throttle.attempt(identity, address, now=0)
    throttle.failed(address, now=0)
    return delay


def test_cycling_identities_from_one_address_is_slowed() -> None:
    throttle = AuthThrottle(free_failures=3, base_delay=1)
    delays = [failed_attempt(throttle, f"CP_{i}", A) for i in range(5)]
    assert delays == [0, 0, 0, 1, 2]
    # An IPv6 host is one /64: changing the low bits does not help.
    delays = [failed_attempt(throttle, f"CP_{i}", f"2001:db8::{i:x}") for i in range(5)]
    assert delays == [0, 0, 0, 1, 2]


def test_a_fleet_behind_one_address_reconnecting_at_once_is_not_slowed() -> None:
    # After a restart nobody is known: thousands of right passwords in parallel from one NAT.
    throttle = AuthThrottle(free_failures=3, base_delay=1)
    assert [throttle.attempt(f"CP_{i}", A, now=0) for i in range(1000)] == [0] * 1000
    for i in range(1000):
        throttle.succeeded(f"CP_{i}", now=0)


def test_other_charge_points_are_not_slowed() -> None:
    throttle = AuthThrottle(free_failures=3, base_delay=1)
    # CP_2 authenticated before a guesser behind the same (carrier-grade) NAT got busy.
    throttle.attempt("CP_2", B, now=0)
    throttle.succeeded("CP_2", now=0)
    for i in range(50):
        failed_attempt(throttle, f"guess_{i}", A)
        failed_attempt(throttle, "CP_1", A)
    assert throttle.attempt("CP_2", A, now=2) == 0  # known: exempt from the address count
    throttle.succeeded("CP_2", now=2)
    assert throttle.attempt("CP_3", B, now=2) == 0  # elsewhere: nothing counted
    assert throttle.attempt("CP_1", B, now=2) > 0  # the attacked identity waits wherever it is
    assert throttle.attempt("CP_4", A, now=2) > 0  # never seen, behind the guesser's address


def test_memory_is_bounded_whatever_the_attacker_cycles() -> None:
    throttle = AuthThrottle(max_entries=100)
    for i in range(10_000):
        address = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        throttle.attempt(f"CP_{i}", address, now=i / 1000)
        throttle.succeeded(f"CP_{i}", now=i / 1000)
        throttle.attempt(f"X_{i}", address, now=i / 1000)
        throttle.failed(address, now=i / 1000)
    assert throttle.entries() <= 300


def test_a_huge_count_does_not_overflow() -> None:
    throttle = AuthThrottle(max_delay=10)
    for _ in range(5000):
        delay = throttle.attempt("CP_1", A, now=0)
    assert delay == 10


# --- in the server's Basic-auth check ------------------------------------------------------------


async def check(identity: str, password: bytes) -> bool:
    return password == b"right"


async def attempt(throttle: AuthThrottle, identity: str, password: str, address: str) -> float:
    """Seconds one attempt took, negative if it was refused."""
    start = trio.current_time()
    header = basic_auth_header(identity, password)
    try:
        await authenticate(check, identity, header, throttle, address, WARNINGS)
    except RejectConnection as rejection:
        assert rejection.status_code == 401
        return -(trio.current_time() - start)
    return trio.current_time() - start


async def test_wrong_passwords_are_slowed_and_the_right_one_of_another_is_not(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Counts are not forgiven during the test, to keep the figures round.
    throttle = AuthThrottle(free_failures=3, base_delay=1, max_delay=10, forgive_after=1e9)
    assert await attempt(throttle, "CP_2", "right", A) == 0
    taken = [await attempt(throttle, "CP_1", "wrong", A) for _ in range(7)]
    assert taken == pytest.approx([0, 0, 0, -1, -2, -4, -8], abs=1e-3)
    assert await attempt(throttle, "CP_2", "right", A) == 0  # it connected before
    assert await attempt(throttle, "CP_3", "right", B) == 0
    # The attacked identity waits too, right password or wrong: timing tells nothing.
    assert await attempt(throttle, "CP_1", "right", B) == pytest.approx(10)
    # A charge point never seen at the guesser's address waits like the guesser's next try.
    assert await attempt(throttle, "CP_4", "right", A) == pytest.approx(10)


async def test_many_parallel_guesses_take_long(autojump_clock: trio.abc.Clock) -> None:
    throttle = AuthThrottle(free_failures=5, base_delay=1, max_delay=10)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(attempt, throttle, "CP_1", f"guess {i}", f"192.0.2.{i}")
    # Counted before any was checked: 45 of them waited, the last ones the longest delay.
    assert trio.current_time() - start == pytest.approx(10)
    assert await attempt(throttle, "CP_1", "guess", "203.0.113.1") == pytest.approx(-10)


def test_an_address_may_come_with_its_port() -> None:
    # The server names the remote as host:port: the port must not make each attempt new.
    throttle = AuthThrottle(free_failures=2, base_delay=1)
    delays = [failed_attempt(throttle, f"CP_{i}", f"192.0.2.1:{50000 + i}") for i in range(4)]
    assert delays == [0, 0, 1, 2]
    delays = [failed_attempt(throttle, f"X_{i}", f"[2001:db8::{i}]:{50000 + i}") for i in range(4)]
    assert delays == [0, 0, 1, 2]

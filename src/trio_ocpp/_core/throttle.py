"""Slowing down password guessing: failed Basic-auth attempts delay the next ones (issue 12, 8).

Failures are counted per identity and per remote address (an IPv6 address by its /64, which one
host usually holds whole). A count is forgotten at one failure per ``forgive_after`` seconds.
Past ``free_failures``, each attempt for that identity or from that address waits before its
password is checked: ``base_delay``, doubling with each further failure, up to ``max_delay``.

- For its identity, every attempt counts as a failure *before* it is checked, and a success
  takes its count back: attempts on one identity made in parallel see each other, so a guesser
  gains nothing from many connections. For its address, only a failure counts, once known: a
  fleet behind one carrier-grade NAT that reconnects at once after a restart (thousands of
  right passwords in parallel, none seen since the server started) is not slowed by itself.
- The delay comes before the check, right password or wrong: how long an answer takes says
  nothing of the password, and the comparison itself stays constant-time (``compare_secret``).
- Other charge points are not slowed: their identities have counts of their own, and an
  identity that authenticated recently is exempt from the address counts (a guesser behind the
  same NAT or carrier-grade NAT does not slow a charge point that has connected before, wherever
  it connects from now). Only a charge point never seen since the server started, behind the
  guesser's address, waits; and one whose *own* identity is under attack, at most ``max_delay``.
- Memory is bounded: at most ``max_entries`` identities, addresses and exempt identities each,
  the least recently seen forgotten first. A guesser who cycles through more identities than that
  to reset one's count pays ``max_entries`` attempts, counted against its address, per guess.

Sans-I/O: the caller passes the time and does the waiting.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from typing import Final

__all__ = ["AuthThrottle", "address_key"]

_IPV6_PREFIX: Final = 64


def address_key(address: str) -> str:
    """The key of an address given as ``host``, ``host:port`` or ``[host]:port``: the host, an
    IPv6 address by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        host = address.rpartition(":")[0].strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return address  # not an IP address (a test transport, a unix socket): as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{_IPV6_PREFIX}", strict=False))
    return str(ip)


class _Counts:
    """Failure counts by key that decay with time; the least recently touched go first."""

    __slots__ = ("_counts", "_forgive_after", "_max_entries")

    def __init__(self, forgive_after: float, max_entries: int) -> None:
        self._counts: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (count, at)
        self._forgive_after = forgive_after
        self._max_entries = max_entries

    def add(self, key: str, amount: float, now: float) -> float:
        """Add ``amount`` (negative: take back) to the count of ``key``; the new count."""
        count, at = self._counts.pop(key, (0.0, now))
        count = max(0.0, count - (now - at) / self._forgive_after + amount)
        if count > 0:
            self._counts[key] = (count, now)
            if len(self._counts) > self._max_entries:
                self._counts.popitem(last=False)
        return count

    def __len__(self) -> int:
        return len(self._counts)


class AuthThrottle:
    """Delays for Basic-auth attempts (module docstring). Per server; sans-I/O."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        forgive_after: float = 60.0,
        base_delay: float = 1.0,
        max_delay: float = 10.0,
        max_entries: int = 10_000,
    ) -> None:
        self._free = free_failures
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._max_entries = max_entries
        self._identities = _Counts(forgive_after, max_entries)
        self._addresses = _Counts(forgive_after, max_entries)
        # Identities that authenticated recently: exempt from the address counts.
        self._known: OrderedDict[str, None] = OrderedDict()

    def attempt(self, identity: str, address: str, now: float) -> float:
        """Count an attempt on ``identity`` as failed until :meth:`succeeded` says otherwise;
        the seconds to wait before checking its password."""
        failures = self._identities.add(identity, 1, now)
        if identity not in self._known:
            # The address's failures so far, and this attempt (counted once it fails).
            failures = max(failures, self._addresses.add(address_key(address), 0, now) + 1)
        excess = failures - self._free
        if excess <= 0:
            return 0.0
        # The exponent capped: a count in the millions must not overflow the float.
        return min(self._base_delay * 2 ** min(excess - 1, 64), self._max_delay)

    def failed(self, address: str, now: float) -> None:
        """The attempt was refused (no or wrong credentials): count it against its address."""
        self._addresses.add(address_key(address), 1, now)

    def succeeded(self, identity: str, now: float) -> None:
        """The attempt's password was right: take its failure back, and exempt the identity."""
        self._identities.add(identity, -1, now)
        self._known[identity] = None
        self._known.move_to_end(identity)
        if len(self._known) > self._max_entries:
            self._known.popitem(last=False)

    def entries(self) -> int:
        """Identities, addresses and exempt identities held: at most 3 * ``max_entries``."""
        return len(self._identities) + len(self._addresses) + len(self._known)

"""A node's membership: the charge points it holds, recorded in the broker and kept there.

A key per identity with the value ``"<node> <stamp>"``, recorded with an expiry
(``membership_ttl``) that the node refreshes every third of it. The stamp is the moment the
server registered the connection (``claim``, before its 101 went out), in the broker's time:
the newest connection wins by that moment, not by the order in which claims reach the broker,
so a claim that arrives late after a newer one closes its own, older connection. Changes are
batched by one task, so that a burst of connections costs a few broker round trips, and the
refresh records again whatever the broker lost (a restart without persistence): after an
outage every node is callable again within a refresh. A node that dies stops listening at once,
so calls to its charge points fail at once; its keys expire within ``membership_ttl``.

A node that has not joined yet (the broker was unreachable when it started) holds its
connections without a word to the broker: they are stamped when it joins, from the moment each
was accepted, once the broker's clock is known, and recorded in the first batch. A connection
that came and went before that is never recorded.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

import attrs
import trio

from .._core import close_codes
from .._core.logsafe import escape
from .._runtime.charge_point import ChargePoint
from ._broker import Broker, ClusterUnavailableError
from ._clock import SharedClock
from ._recorder import EventRecorder

__all__ = ["REPLACED_CLOSE_CODE", "NodeMembership"]

logger = logging.getLogger("trio_ocpp.cluster")

#: The close code of a connection replaced by a newer one of its identity on another node (the
#: same as a replacement on one server: CONFORMANCE 39).
REPLACED_CLOSE_CODE = close_codes.REPLACED
_REPLACED = "replaced by a newer connection on another node"
#: Seconds before the membership task tries the broker again after a failure.
_RETRY = 1.0
#: Seconds a stopping node tries to remove its keys for.
_LEAVING = 2.0


@attrs.define(eq=False)
class _Held:
    cp: ChargePoint
    accepted: float  # trio time of the claim
    value: str = ""  # the membership value, "<node> <stamp>"; "" until the node joined


def _connection(value: str | None) -> str:
    """A membership value for a log line: its node, and when its connection was accepted."""
    node, _, stamp = (value or "? ?").partition(" ")
    try:
        accepted = datetime.fromtimestamp(int(stamp) / 1e6, UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError, OSError):
        accepted = "?"
    return f"node {escape(node)}, accepted {accepted}"


class NodeMembership:
    """The connections of one node and their keys (see the module docstring)."""

    def __init__(
        self,
        node_id: str,
        ttl: float,
        clock: SharedClock,
        recorder: EventRecorder,
        nursery: trio.Nursery,
    ) -> None:
        self._node_id = node_id
        self._ttl = ttl
        self._clock = clock
        self._recorder = recorder
        self._held: dict[str, _Held] = {}
        self._claims: dict[str, str] = {}  # to record
        self._releases: dict[str, str] = {}  # to remove
        self._changed = trio.Event()
        self._last_stamp = 0
        self._joined = False
        self._nursery = nursery  # where replaced connections are closed

    def __len__(self) -> int:
        return len(self._held)

    def get(self, identity: str) -> ChargePoint | None:
        held = self._held.get(identity)
        return None if held is None else held.cp

    def claim(self, cp: ChargePoint) -> None:
        held = self._held[cp.id] = _Held(cp, trio.current_time())
        if self._joined:
            self._stamp(held)
            self._claims[cp.id] = held.value
            self._changed.set()
        if self._recorder.actions:
            cp.add_observer(self._recorder)

    def release(self, cp: ChargePoint) -> None:
        held = self._held.get(cp.id)
        if held is None or held.cp is not cp:
            return  # given up already: another node took it over
        del self._held[cp.id]
        if not held.value:
            return  # never recorded: the node had not joined
        if self._claims.get(cp.id) == held.value:
            del self._claims[cp.id]  # gone before it was recorded
        self._releases[cp.id] = held.value
        self._changed.set()

    def _stamp(self, held: _Held) -> None:
        # When the connection was accepted, in the broker's time, whenever the claim reaches
        # the broker. Strictly increasing, so each value is unique.
        stamp = int(self._clock.estimate(held.accepted) * 1e6)
        self._last_stamp = stamp = max(stamp, self._last_stamp + 1)
        held.value = f"{self._node_id} {stamp}"

    def give_up(self, identity: str, value: str, newer: str | None) -> None:
        """A newer connection on another node holds ``identity`` (``newer``: its membership
        value, when known): close ours if it is still the one of ``value``."""
        held = self._held.get(identity)
        if held is None or held.value != value:
            return  # a newer connection here, or one we released
        del self._held[identity]
        self._claims.pop(identity, None)
        logger.warning(
            "%s: the connection here (%s) is replaced by a newer one (%s), closing it",
            escape(identity),
            _connection(value),
            _connection(newer),
        )
        self._nursery.start_soon(held.cp.aclose, REPLACED_CLOSE_CODE, _REPLACED)

    async def keep(self, broker: Broker) -> None:
        """From the node's joining on: stamp what it holds, then record claims and releases as
        they come, in batches, and refresh what it holds."""
        # The broker's clock is known now (the node measured it to join).
        for held in sorted(self._held.values(), key=lambda held: held.accepted):
            self._stamp(held)
            self._claims[held.cp.id] = held.value
        self._joined = True
        interval = self._ttl / 3
        refresh_at = trio.current_time() + interval
        failing = False
        while True:
            self._changed = trio.Event()
            releases, self._releases = self._releases, {}
            claims, self._claims = self._claims, {}
            refreshing = trio.current_time() >= refresh_at
            # A refresh is a claim of everything held: what another node took since, with a
            # newer connection, is given up here (its notice may have been lost).
            pairs = [(i, h.value) for i, h in self._held.items()] if refreshing else claims.items()
            try:
                if releases:
                    await broker.release(list(releases.items()))
                if pairs:
                    pairs = list(pairs)
                    for index, newer in await broker.claim(pairs, self._ttl):
                        self.give_up(*pairs[index], newer)
                if refreshing:
                    refresh_at = trio.current_time() + interval
            except ClusterUnavailableError as exc:
                # What was lost is recorded again by the next refresh; releases expire.
                if not failing:
                    logger.warning("membership not recorded, retrying: %s", exc)
                failing = True
                refresh_at = min(refresh_at, trio.current_time() + _RETRY)
            else:
                if failing:
                    logger.warning("membership recorded again")
                failing = False
            with trio.move_on_at(refresh_at):
                await self._changed.wait()

    async def release_all(self, broker: Broker) -> None:
        """On the way out: remove what this node recorded, while the broker answers."""
        held = [(identity, h.value) for identity, h in self._held.items() if h.value]
        held += list(self._releases.items())
        self._held.clear()
        # Shielded: this runs while the node is being cancelled. Else the keys expire.
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(_LEAVING),
            contextlib.suppress(ClusterUnavailableError),
        ):
            await broker.release(held)

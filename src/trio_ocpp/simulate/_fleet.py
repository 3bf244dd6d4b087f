"""A fleet: groups of simulated charge points, from command-line options or a TOML file,
arriving all at once (a storm) or so many per second, for a run of a given length."""

from __future__ import annotations

import random
import ssl
import tomllib
from pathlib import Path
from typing import Any

import attrs
import trio

from ._behaviour import Behaviour
from ._station import CLASSES, SimulatedChargePoint
from ._stats import FleetStats


@attrs.frozen(kw_only=True)
class Group:
    """``count`` charge points of one version. ``identity`` and ``password`` are patterns:
    ``{n}`` (1, 2, ... across the fleet), ``{version}``, and for the password ``{identity}``."""

    version: str = "1.6"
    count: int = 10
    identity: str = "SIM-{n:05d}"
    password: str | None = None
    connectors: int = 2
    behaviour: Behaviour = attrs.field(factory=Behaviour)

    def __attrs_post_init__(self) -> None:
        if self.version not in CLASSES:
            raise ValueError(f"unknown OCPP version {self.version!r}: one of {', '.join(CLASSES)}")
        if self.count < 0 or self.connectors < 1:
            raise ValueError("a group has count >= 0 charge points of connectors >= 1")


@attrs.frozen(kw_only=True)
class Fleet:
    """``arrival_rate``: charge points started per second (0: all at once); ``duration``:
    seconds the run lasts (0: until cancelled); ``seed``: the same seed, the same behaviour.
    ``client_options`` go to each charge point's :class:`~trio_ocpp.Client`."""

    url: str
    groups: tuple[Group, ...] = (Group(),)
    arrival_rate: float = 0.0
    duration: float = 60.0
    seed: int = 0
    ssl_context: ssl.SSLContext | None = None
    client_options: dict[str, Any] = attrs.field(factory=dict)

    @property
    def size(self) -> int:
        return sum(group.count for group in self.groups)

    def charge_points(
        self, stats: FleetStats, shard: int = 0, shards: int = 1
    ) -> list[tuple[float, SimulatedChargePoint]]:
        """This shard's charge points (every ``shards``-th of the fleet), each with its start
        offset in seconds: the fleet's arrival order whichever process runs it."""
        made = []
        n = 0
        for group in self.groups:
            for _ in range(group.count):
                n += 1
                if (n - 1) % shards != shard:
                    continue
                identity = group.identity.format(n=n, version=group.version)
                password = group.password
                if password is not None:
                    password = password.format(n=n, version=group.version, identity=identity)
                cp = CLASSES[group.version](
                    self.url,
                    identity,
                    connectors=group.connectors,
                    behaviour=group.behaviour,
                    stats=stats,
                    rng=random.Random(f"{self.seed}:{identity}"),
                    basic_auth=password,
                    ssl_context=self.ssl_context,
                    **self.client_options,
                )
                made.append(((n - 1) / self.arrival_rate if self.arrival_rate else 0.0, cp))
        return made

    async def run(self, stats: FleetStats, shard: int = 0, shards: int = 1) -> None:
        """Run this shard of the fleet for ``duration`` seconds (0: until cancelled)."""
        members = self.charge_points(stats, shard, shards)
        stats.expected = len(members)
        stats.started_at = start = trio.current_time()
        with trio.move_on_after(self.duration or float("inf")):
            async with trio.open_nursery() as nursery:
                for offset, cp in members:
                    await trio.sleep_until(start + offset)
                    nursery.start_soon(cp.run)


def load(path: str | Path) -> dict[str, Any]:
    """A fleet file's settings: top-level options as on the command line (``charge_points``,
    ``arrival_rate``, ``transactions_per_hour``, ...) and ``[[group]]`` tables."""
    with open(path, "rb") as file:
        return tomllib.load(file)


#: Behaviour's fields, as settings may name them.
BEHAVIOUR_FIELDS = tuple(field.name for field in attrs.fields(Behaviour))
GROUP_FIELDS = ("version", "count", "identity", "password", "connectors")


def groups_from(settings: dict[str, Any]) -> tuple[Group, ...]:
    """The groups of a fleet file's (or the command line's) settings: each ``[[group]]`` takes
    the top-level values for what it does not say; without any, one group of the top level."""
    tables = settings.get("group") or [{}]
    unknown = {key for table in tables for key in table} - {*BEHAVIOUR_FIELDS, *GROUP_FIELDS}
    if unknown:
        raise ValueError(f"unknown group settings: {', '.join(sorted(unknown))}")
    groups = []
    for table in tables:
        merged = {**settings, **table}
        if "count" not in table and "charge_points" in settings:
            merged["count"] = settings["charge_points"]
        behaviour = Behaviour(**{k: merged[k] for k in BEHAVIOUR_FIELDS if k in merged})
        fields = {k: merged[k] for k in GROUP_FIELDS if merged.get(k) is not None}
        groups.append(Group(behaviour=behaviour, **fields))
    return tuple(groups)

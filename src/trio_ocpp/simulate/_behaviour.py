"""How a simulated charge point behaves: when its drivers come, how long and how fast they
charge. The defaults make a short first run show everything within its first 30 s."""

from __future__ import annotations

import random
from typing import Any

import attrs


def _span(value: Any) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, int | float) else value
    if not 0 <= low <= high:
        raise ValueError(f"a range is [low, high] with 0 <= low <= high, not {value!r}")
    return float(low), float(high)


@attrs.frozen(kw_only=True)
class Behaviour:
    """Per connector: drivers arrive ``transactions_per_hour`` while it is idle (a Poisson
    process), the first within ``first_transaction_within`` seconds of the first boot; a
    transaction lasts ``transaction_duration`` seconds and draws ``power_kw``, both uniform in their
    [low, high]; meter values every ``meter_interval`` seconds (the configuration's
    MeterValueSampleInterval / TxUpdatedInterval, which the central system may change).
    ``heartbeat_interval`` overrides the one the boot returned; ``reboot_seconds`` is how long
    a Reset keeps the charge point down."""

    transactions_per_hour: float = 30.0
    first_transaction_within: float = 20.0
    transaction_duration: tuple[float, float] = attrs.field(default=(30.0, 120.0), converter=_span)
    power_kw: tuple[float, float] = attrs.field(default=(3.7, 22.0), converter=_span)
    meter_interval: float = 10.0
    heartbeat_interval: float | None = None
    reboot_seconds: tuple[float, float] = attrs.field(default=(1.0, 3.0), converter=_span)

    def __attrs_post_init__(self) -> None:
        if self.transactions_per_hour < 0 or self.meter_interval <= 0:
            raise ValueError("transactions_per_hour must be >= 0 and meter_interval > 0")

    def first_idle(self, rng: random.Random) -> float:
        if self.transactions_per_hour <= 0:
            return float("inf")
        return rng.uniform(0, self.first_transaction_within)

    def idle(self, rng: random.Random) -> float:
        """Seconds until the next driver arrives at an idle connector."""
        if self.transactions_per_hour <= 0:
            return float("inf")
        return rng.expovariate(self.transactions_per_hour / 3600)

    def transaction(self, rng: random.Random) -> tuple[float, float]:
        """A transaction's duration (seconds) and power (W)."""
        return rng.uniform(*self.transaction_duration), 1000 * rng.uniform(*self.power_kw)

    def reboot(self, rng: random.Random) -> float:
        return rng.uniform(*self.reboot_seconds)

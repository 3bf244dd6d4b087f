"""The report at the end of a run: per action and direction, counts, errors by code and
latency percentiles; connections; for a storm, the time until all connected and booted."""

from __future__ import annotations

from typing import Any

from ._stats import FleetStats

PERCENTILES = (0.5, 0.9, 0.99)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _after(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.2f} s"


def text(stats: FleetStats, size: int) -> str:
    """The report, for a terminal."""
    lines = [
        f"{'action':<26}{'direction':<10}{'count':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        "  errors"
    ]
    for (action, direction), item in sorted(stats.actions.items()):
        p50, p90, p99 = (item.latency.percentile(p) for p in PERCENTILES)
        errors = ", ".join(f"{code} {n}" for code, n in sorted(item.errors.items())) or "-"
        lines.append(
            f"{action:<26}{direction:<10}{item.count:>9}{_ms(p50):>9}{_ms(p90):>9}{_ms(p99):>9}"
            f"  {errors}"
        )
    lines += [
        "",
        f"charge points {size}: connects {stats.connects}, reconnects {stats.reconnects}, "
        f"failed connection attempts {stats.failed_connects} (refused handshakes "
        f"{stats.refused_handshakes})",
        f"boots {stats.boots} (not accepted {stats.boots_refused}), "
        f"transactions {stats.transactions}",
        f"all connected after {_after(stats.all_connected_after)}, "
        f"all booted after {_after(stats.all_booted_after)}",
    ]
    if stats.crashes:
        crashes = ", ".join(f"{name} {n}" for name, n in sorted(stats.crashes.items()))
        lines.append(f"simulator failures: {crashes}")
    verdict = (
        "no unexpected errors"
        if not stats.unexpected
        else (f"{stats.unexpected} unexpected errors")
    )
    lines.append(verdict)
    return "\n".join(lines)


def as_json(stats: FleetStats, size: int) -> dict[str, Any]:
    """The report for ``--json``: the text's figures, and the histograms to merge runs."""
    data = stats.to_json()
    for item in data["actions"]:
        histogram = stats.actions[item["action"], item["direction"]].latency
        item["latency_ms"] = {
            f"p{round(p * 100)}": None if (v := histogram.percentile(p)) is None else v * 1000
            for p in PERCENTILES
        }
    data["charge_points"] = size
    return data

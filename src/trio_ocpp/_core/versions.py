"""The OCPP versions trio-ocpp speaks, and the names they go by."""

from __future__ import annotations

from typing import Final, Literal

OCPPVersion = Literal["1.6", "2.0.1", "2.1"]

#: Newest first: the order in which a client offers them by default.
VERSIONS: Final[tuple[OCPPVersion, ...]] = ("2.1", "2.0.1", "1.6")

#: WebSocket subprotocol of each version (OCPP-J "ocpp" + version).
SUBPROTOCOLS: Final[dict[OCPPVersion, str]] = {v: f"ocpp{v}" for v in VERSIONS}

#: Folder of each version under schemas/ and name of its package (trio_ocpp.v16, ...).
PACKAGES: Final[dict[OCPPVersion, str]] = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}

_ALIASES: Final[dict[str, OCPPVersion]] = {
    **{v: v for v in VERSIONS},
    **{sub: v for v, sub in SUBPROTOCOLS.items()},
    **{pkg: v for v, pkg in PACKAGES.items()},
}


def normalize_version(version: str) -> OCPPVersion:
    """Accept "1.6", "ocpp1.6" or "v16" (and the same for 2.0.1 and 2.1)."""
    try:
        return _ALIASES[version]
    except KeyError:
        raise ValueError(
            f"unknown OCPP version {version!r}; expected one of {', '.join(VERSIONS)}"
        ) from None


def is_2x(version: OCPPVersion) -> bool:
    return version != "1.6"

"""The charge point side: connect to a central system and run a ChargePoint on the connection."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import trio
import trio_websocket

from ._charge_point import ChargePoint
from ._server import identity_from_path
from ._versions import SUBPROTOCOLS, OCPPVersion, is_2x

__all__ = ["NoSubprotocolError", "charge_point_url", "connect"]

logger = logging.getLogger("trio_ocpp.client")

CP = TypeVar("CP", bound=ChargePoint)

#: 2.x: the identity is also the Basic-auth username, so it is limited (CONFORMANCE 3).
_MAX_IDENTITY_2X = 48


class NoSubprotocolError(Exception):
    """The server completed the handshake without accepting any OCPP subprotocol we offered."""


def check_identity(identity: str, versions: Iterable[OCPPVersion]) -> None:
    """Refuse an identity that the offered versions do not allow (CONFORMANCE 2-3)."""
    if not identity:
        raise ValueError("the charge point identity must not be empty")
    if any(is_2x(v) for v in versions) and (len(identity) > _MAX_IDENTITY_2X or ":" in identity):
        raise ValueError(
            f"invalid OCPP 2.x identity {identity!r}: at most 48 characters and no ':'"
        )


def charge_point_url(endpoint: str, identity: str) -> str:
    """``endpoint`` + "/" + the percent-encoded identity (RFC 3986: every reserved character)."""
    return endpoint.rstrip("/") + "/" + quote(identity, safe="")


@asynccontextmanager
async def connect(
    url: str,
    charge_point_class: type[CP],
    *,
    identity: str | None = None,
    subprotocols: Sequence[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    **charge_point_options: Any,
) -> AsyncIterator[CP]:
    """Connect to a central system and yield the running ChargePoint.

    ``url`` is the endpoint; with ``identity`` given, the percent-encoded identity is appended,
    else the URL's last path segment is the identity. ``subprotocols`` defaults to the class's
    version. Leaving the block closes the connection and cancels the ChargePoint's tasks.
    """
    version = charge_point_class._ocpp_version
    offered = list(subprotocols) if subprotocols is not None else [SUBPROTOCOLS[version]]
    if identity is None:
        identity = identity_from_path(url)
    else:
        url = charge_point_url(url, identity)
    check_identity(identity, [version])
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
    async with trio_websocket.open_websocket_url(
        url, ssl_context, subprotocols=offered, extra_headers=headers
    ) as ws:
        if ws.subprotocol != SUBPROTOCOLS[version]:
            # CONFORMANCE 6: a 101 without an OCPP subprotocol is closed by the client too.
            await ws.aclose(1002, "no OCPP subprotocol accepted")
            raise NoSubprotocolError(
                f"the server accepted {ws.subprotocol!r}, not {SUBPROTOCOLS[version]!r}"
            )
        cp = charge_point_class(identity, ws, **charge_point_options)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cp.start)
            try:
                yield cp
            finally:
                nursery.cancel_scope.cancel()

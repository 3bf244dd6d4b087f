"""Connections made elsewhere, seen as what a ChargePoint reads and writes.

A ChargePoint runs on our own :class:`~trio_ocpp.WebSocketConnection` (made by ``Server`` and
``connect``), on a trio-websocket connection (``serve_websocket`` handlers), and on a
``websockets.trio`` connection (``recv``/``send``), so that code ported from the ``ocpp``
package keeps its ``websockets`` handler. The other two are adapted, so that every connection a
ChargePoint runs on raises one closed type, :class:`~trio_ocpp.ConnectionClosed`, with the
Close code and reason.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import trio_websocket

from .._core import close_codes
from .connection import ConnectionClosed, WebSocketConnection

__all__ = [
    "Connection",
    "TrioWebsocketAdapter",
    "WebsocketsTrioAdapter",
    "as_connection",
    "describe",
]


class Connection(Protocol):
    """What a ChargePoint needs from its connection: ours (``trio_ocpp.WebSocketConnection``)
    fits; trio-websocket's and ``websockets.trio``'s are adapted. Once closed, ``get_message``
    and ``send_message`` raise :class:`~trio_ocpp.ConnectionClosed`; an optional ``ping()``
    returns when the pong came back."""

    async def get_message(self) -> str | bytes: ...

    async def send_message(self, message: str) -> None: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...


def as_connection(connection: Any, send_timeout: float) -> Connection:
    """The connection to run on: ``connection`` itself, or its adapter."""
    if isinstance(connection, WebSocketConnection):
        # Its reader sends pongs and Close frames: bounded like the ChargePoint's own frames.
        connection.send_timeout = send_timeout
        return connection
    if isinstance(connection, trio_websocket.WebSocketConnection):
        return TrioWebsocketAdapter(connection)
    if not hasattr(connection, "get_message") and hasattr(connection, "recv"):
        return WebsocketsTrioAdapter(connection)
    return connection  # type: ignore[no-any-return]


def describe(connection: Any) -> tuple[Literal["server", "client"], str | None]:
    """The side we are on and the peer's ``host:port`` (None where unknown), of a connection
    as it was given to a ChargePoint."""
    if isinstance(connection, WebSocketConnection):
        return ("client" if connection.is_client else "server"), connection.remote or None
    if isinstance(connection, trio_websocket.WebSocketConnection):
        remote = connection.remote
        address = getattr(remote, "address", None)
        where = f"{address}:{remote.port}" if address is not None else None  # type: ignore[union-attr]
        return ("client" if connection.is_client else "server"), where
    is_client = getattr(connection, "is_client", None)  # anything that says (the test kit's)
    if isinstance(is_client, bool):
        return ("client" if is_client else "server"), getattr(connection, "remote", None)
    side = getattr(getattr(connection, "protocol", None), "side", None)  # websockets'
    client = getattr(side, "name", "") == "CLIENT"
    address = getattr(connection, "remote_address", None)
    where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else None
    return ("client" if client else "server"), where


def _closed(exc: trio_websocket.ConnectionClosed) -> ConnectionClosed:
    close = exc.reason
    return (
        ConnectionClosed(close.code, close.reason or "")
        if close
        else ConnectionClosed(close_codes.ABNORMAL)
    )


class TrioWebsocketAdapter:
    """A trio-websocket connection whose closed connection raises :class:`ConnectionClosed`."""

    def __init__(self, websocket: trio_websocket.WebSocketConnection) -> None:
        self.websocket = websocket

    @property
    def subprotocol(self) -> str | None:
        return self.websocket.subprotocol

    async def get_message(self) -> str | bytes:
        try:
            return await self.websocket.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def send_message(self, message: str | bytes) -> None:
        try:
            await self.websocket.send_message(message)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def ping(self) -> None:
        try:
            await self.websocket.ping()
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self.websocket.aclose(code, reason)


class WebsocketsTrioAdapter:
    """A ``websockets.trio`` connection with a ChargePoint's read, write, ping and close."""

    def __init__(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed as Closed

        self.websocket = websocket
        self._closed = Closed

    @property
    def subprotocol(self) -> str | None:
        return self.websocket.subprotocol  # type: ignore[no-any-return]

    def _closed_error(self, exc: Exception) -> ConnectionClosed:
        close = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
        return (
            ConnectionClosed(close.code, close.reason)
            if close
            else ConnectionClosed(close_codes.ABNORMAL)
        )

    async def get_message(self) -> str | bytes:
        try:
            return await self.websocket.recv()  # type: ignore[no-any-return]
        except self._closed as exc:
            raise self._closed_error(exc) from None

    async def send_message(self, message: str | bytes) -> None:
        try:
            await self.websocket.send(message)
        except self._closed as exc:
            raise self._closed_error(exc) from None

    async def ping(self) -> None:
        try:
            pong = await self.websocket.ping(ack_on_close=True)
        except self._closed as exc:
            raise self._closed_error(exc) from None
        await pong.wait()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self.websocket.aclose(code, reason or "")

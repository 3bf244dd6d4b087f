"""The central system side: a trio-websocket server with one nursery per charge point connection.

Per connection, before the WebSocket upgrade: the identity is read from the last path segment
(percent-decoded, CONFORMANCE 2), the OCPP version is negotiated from the client's subprotocols
(the first one in the client's order that the server speaks, CONFORMANCE 5-7), and an optional
``on_connect`` hook may reject the connection with an HTTP status (404 for an unknown identity, 401
for bad credentials). Then the version's ChargePoint class runs the connection.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import attrs
import trio
import trio_websocket

from ._charge_point import ChargePoint
from ._versions import SUBPROTOCOLS, OCPPVersion, normalize_version

__all__ = ["ConnectionRequest", "RejectConnection", "Server", "identity_from_path", "serve"]

logger = logging.getLogger("trio_ocpp.server")

_BY_SUBPROTOCOL: dict[str, OCPPVersion] = {sub: v for v, sub in SUBPROTOCOLS.items()}
#: WebSocket close codes used here (RFC 6455).
_GOING_AWAY = 1001
_PROTOCOL_ERROR = 1002


class RejectConnection(Exception):
    """Raise from an ``on_connect`` hook to refuse a connection before the upgrade."""

    def __init__(self, status_code: int = 404, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(status_code)
        self.status_code = status_code
        self.headers = tuple(headers)


@attrs.frozen
class ConnectionRequest:
    """What a server knows of a connection before accepting it: passed to ``on_connect``."""

    identity: str
    path: str
    #: The negotiated version; None when the client offered nothing the server speaks.
    ocpp_version: OCPPVersion | None
    offered_subprotocols: tuple[str, ...]
    #: Request headers, names lower-cased, values as sent (bytes: they may not be UTF-8).
    headers: Mapping[str, bytes]
    remote: str


def identity_from_path(path: str) -> str:
    """The charge point identity: the last path segment, percent-decoded (query ignored)."""
    segments = [s for s in urlsplit(path).path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def _choose_version(
    offered: Iterable[str], speaks: Mapping[OCPPVersion, Any]
) -> OCPPVersion | None:
    # The client's order decides (CONFORMANCE 5, project decision).
    for sub in offered:
        version = _BY_SUBPROTOCOL.get(sub)
        if version is not None and version in speaks:
            return version
    return None


ChargePointClasses = type[ChargePoint] | Iterable[type[ChargePoint]]
OnConnect = Callable[[ConnectionRequest], Awaitable[None]]


class Server:
    """A central system: run it with ``await nursery.start(server.run)``.

    ``charge_points``: the ChargePoint class of each version the server speaks (one class, or
    several of different versions). ``default_version``: the version for clients that offer no
    subprotocol at all (off by default: such clients are closed, CONFORMANCE 6).
    ``charge_point_options`` are passed to each ChargePoint (``response_timeout``, ...).
    ``max_connections``: connections (and handshakes) beyond it are refused with HTTP 503.
    """

    def __init__(
        self,
        charge_points: ChargePointClasses,
        *,
        default_version: str | None = None,
        on_connect: OnConnect | None = None,
        ssl_context: ssl.SSLContext | None = None,
        charge_point_options: Mapping[str, Any] | None = None,
        max_connections: int | None = None,
    ):
        classes = [charge_points] if isinstance(charge_points, type) else list(charge_points)
        self.classes: dict[OCPPVersion, type[ChargePoint]] = {}
        for cls in classes:
            version = cls._ocpp_version
            if version in self.classes:
                raise ValueError(f"two ChargePoint classes for OCPP {version}")
            self.classes[version] = cls
        if not self.classes:
            raise ValueError("a server needs at least one ChargePoint class")
        self.default_version = (
            None if default_version is None else normalize_version(default_version)
        )
        if self.default_version is not None and self.default_version not in self.classes:
            raise ValueError(f"no ChargePoint class for the default version {default_version}")
        self._on_connect = on_connect
        self._ssl_context = ssl_context
        self._options = dict(charge_point_options or {})
        self._max_connections = max_connections
        self._connected: dict[str, ChargePoint] = {}
        self._handshaking = 0
        self._accepting = True
        self._scope = trio.CancelScope()
        self._websocket_server: trio_websocket.WebSocketServer | None = None

    @property
    def charge_points(self) -> Mapping[str, ChargePoint]:
        """The charge points connected now, by identity (read-only view)."""
        return self._connected

    def get(self, identity: str) -> ChargePoint | None:
        return self._connected.get(identity)

    @property
    def port(self) -> int:
        if self._websocket_server is None:
            raise RuntimeError("the server is not running")
        return self._websocket_server.port

    @property
    def subprotocols(self) -> list[str]:
        return [SUBPROTOCOLS[v] for v in self.classes]

    async def run(
        self,
        host: str | None = "0.0.0.0",
        port: int = 9000,
        *,
        task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
        **websocket_options: Any,
    ) -> None:
        """Serve until cancelled or :meth:`shutdown`; ``task_status.started(self)`` once listening.

        ``websocket_options`` go to ``trio_websocket.serve_websocket``: ``max_message_size``
        (bytes; a larger message closes its connection with 1009), ``connect_timeout`` (seconds
        for the handshake), ... Cancelling closes every connection with 1001 (going away).
        """
        with self._scope:
            await self._serve(host, port, task_status, websocket_options)

    async def _serve(
        self,
        host: str | None,
        port: int,
        task_status: trio.TaskStatus[Server],
        websocket_options: dict[str, Any],
    ) -> NoReturn:
        async with trio.open_nursery() as nursery:
            self._websocket_server = await nursery.start(
                lambda task_status: trio_websocket.serve_websocket(
                    self._handle_request,
                    host,
                    port,
                    self._ssl_context,
                    task_status=task_status,
                    **websocket_options,
                )
            )
            logger.info("listening on port %d for %s", self.port, ", ".join(self.subprotocols))
            task_status.started(self)
            await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def shutdown(self, grace_period: float = 10) -> None:
        """Stop: refuse new connections, let each connection finish its handlers and calls
        within ``grace_period`` seconds, close them with 1001, then stop listening."""
        self._accepting = False
        async with trio.open_nursery() as nursery:
            for cp in list(self._connected.values()):
                nursery.start_soon(cp.shutdown, grace_period, _GOING_AWAY, "server shutting down")
        self._scope.cancel()

    async def _handle_request(self, request: trio_websocket.WebSocketRequest) -> None:
        busy = self._max_connections is not None and (
            len(self._connected) + self._handshaking >= self._max_connections
        )
        if busy or not self._accepting:
            logger.warning("refusing %s: %s", request.path, "server full" if busy else "stopping")
            await request.reject(503)
            return
        self._handshaking += 1
        try:
            ws = await self._handshake(request)
        finally:
            self._handshaking -= 1
        if ws is not None:
            await self._run_charge_point(*ws)

    async def _handshake(
        self, request: trio_websocket.WebSocketRequest
    ) -> tuple[str, OCPPVersion, trio_websocket.WebSocketConnection] | None:
        """Accept or reject one request: the connection to run, or None."""
        identity = identity_from_path(request.path)
        offered = request.proposed_subprotocols
        version = _choose_version(offered, self.classes)
        if version is None and not offered:
            version = self.default_version
        if not identity:
            logger.warning("rejecting %s: no charge point identity in the path", request.path)
            await request.reject(404)
            return None
        if self._on_connect is not None:
            info = ConnectionRequest(
                identity=identity,
                path=request.path,
                ocpp_version=version,
                offered_subprotocols=offered,
                headers={k.decode("latin-1").lower(): v for k, v in request.headers},
                remote=str(request.remote),
            )
            try:
                await self._on_connect(info)
            except RejectConnection as rejection:
                logger.info("%s: rejected with HTTP %d", identity, rejection.status_code)
                headers = [(k.encode(), v.encode()) for k, v in rejection.headers]
                await request.reject(rejection.status_code, extra_headers=headers)
                return None
        if version is None:
            # CONFORMANCE 6: complete the handshake without a subprotocol, then close.
            logger.warning("%s: no supported OCPP subprotocol in %s, closing", identity, offered)
            ws = await request.accept()
            await ws.aclose(_PROTOCOL_ERROR, "no supported OCPP subprotocol")
            return None
        ws = await request.accept(subprotocol=SUBPROTOCOLS[version] if offered else None)
        return identity, version, ws

    async def _run_charge_point(
        self, identity: str, version: OCPPVersion, ws: trio_websocket.WebSocketConnection
    ) -> None:
        cp = self.classes[version](identity, ws, **self._options)
        previous = self._connected.get(identity)
        if previous is not None:
            # The newest connection of an identity wins: the old one is most likely half-open.
            logger.warning("%s: new connection replaces the previous one", identity)
            await previous.aclose(1000, "replaced by a new connection")
        self._connected[identity] = cp
        logger.info("%s: connected (OCPP %s)", identity, version)
        try:
            await cp.start()
        finally:
            if self._connected.get(identity) is cp:
                del self._connected[identity]
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                # A server being stopped says so with 1001; otherwise this is a no-op.
                await ws.aclose(_GOING_AWAY, "server shutting down")


async def serve(
    charge_points: ChargePointClasses,
    host: str | None = "0.0.0.0",
    port: int = 9000,
    *,
    default_version: str | None = None,
    on_connect: OnConnect | None = None,
    ssl_context: ssl.SSLContext | None = None,
    charge_point_options: Mapping[str, Any] | None = None,
    max_connections: int | None = None,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
    **websocket_options: Any,
) -> None:
    """Run a central system until cancelled: ``server = await nursery.start(serve, MyCP, ...)``."""
    server = Server(
        charge_points,
        default_version=default_version,
        on_connect=on_connect,
        ssl_context=ssl_context,
        charge_point_options=charge_point_options,
        max_connections=max_connections,
    )
    await server.run(host, port, task_status=task_status, **websocket_options)

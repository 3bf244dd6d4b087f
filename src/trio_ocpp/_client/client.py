"""The charge point side: connect to a central system and run a ChargePoint on the connection.

:func:`connect` makes one connection; :class:`Client` keeps a charge point connected, reconnecting
with the OCPP back-off (CONFORMANCE 30) until it is closed.
"""

from __future__ import annotations

import itertools
import logging
import random
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import attrs
import trio
from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from .._core import close_codes, errors
from .._core.auth import basic_auth_header
from .._core.identity import IdentityPolicy, check_identity, identity_from_path
from .._core.logsafe import escape
from .._core.ungroup import lone_exception, ungroup
from .._core.versions import SUBPROTOCOLS, OCPPVersion
from .._runtime.charge_point import ChargePoint
from .._transport.connection import MAX_MESSAGE_SIZE, WebSocketConnection
from .._transport.handshake import (
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    client_handshake,
)
from .._transport.tls import check_tls_version

__all__ = [
    "Client",
    "ConnectionRejected",
    "ConnectionTimeout",
    "HandshakeError",
    "NoSubprotocolError",
    "charge_point_url",
    "connect",
    "retry_backoff",
]

logger = logging.getLogger("trio_ocpp.client")

CP = TypeVar("CP", bound=ChargePoint)

#: 2.x: the identity is also the Basic-auth username, so it is limited (CONFORMANCE 3).


class NoSubprotocolError(HandshakeError):
    """The server completed the handshake without accepting any OCPP subprotocol we offered."""


#: A client builds a URL for any length an OCPP version allows: the server has its own policy.
_ANY_LENGTH = IdentityPolicy(max_length=sys.maxsize)


def refuse_identity(identity: str, versions: Iterable[OCPPVersion]) -> None:
    """ValueError for an identity that an offered version does not allow (CONFORMANCE 2-3): the
    core's rules (``check_identity``), less the server's policy on length."""
    for version in versions:
        refusal = check_identity(identity, version, _ANY_LENGTH)
        if refusal is not None:
            raise ValueError(f"invalid charge point identity {identity!r}: {refusal.reason}")


def charge_point_url(endpoint: str, identity: str) -> str:
    """``endpoint`` + "/" + the percent-encoded identity (RFC 3986: every reserved character)."""
    return endpoint.rstrip("/") + "/" + quote(identity, safe="")


@attrs.frozen
class _Target:
    """Where and how to connect: what every (re)connection of one charge point repeats."""

    url: str
    identity: str
    version: OCPPVersion
    subprotocols: list[str]
    ssl_context: ssl.SSLContext | None
    headers: list[tuple[str, str]]
    max_message_size: int

    @classmethod
    def make(
        cls,
        url: str,
        version: OCPPVersion,
        identity: str | None,
        subprotocols: Sequence[str] | None,
        ssl_context: ssl.SSLContext | None,
        extra_headers: Sequence[tuple[str, str]],
        basic_auth: str | bytes | None,
        max_message_size: int,
    ) -> _Target:
        if identity is None:
            identity = identity_from_path(url)
        else:
            url = charge_point_url(url, identity)
        refuse_identity(identity, [version])
        if ssl_context is not None:
            check_tls_version(ssl_context)
        headers = list(extra_headers)
        if basic_auth is not None:
            if ":" in identity:  # 1.6 allows it, but it would end the Basic auth username
                raise ValueError(f"identity {identity!r} has a ':': it cannot use Basic auth")
            headers.append(("Authorization", basic_auth_header(identity, basic_auth).decode()))
        offered = list(subprotocols) if subprotocols is not None else [SUBPROTOCOLS[version]]
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(str(exc)) from None
        return cls(url, identity, version, offered, ssl_context, headers, max_message_size)

    @asynccontextmanager
    async def open(self, connect_timeout: float) -> AsyncIterator[WebSocketConnection]:
        """Open the connection (TCP, TLS for wss://, the opening handshake) within
        ``connect_timeout`` seconds; a failure raises :class:`HandshakeError`
        (:class:`ConnectionRejected` for an HTTP answer such as 401 or 404) or
        NoSubprotocolError."""
        stream: trio.abc.Stream | None = None
        try:
            try:
                with trio.fail_after(connect_timeout):
                    stream = await self._open_stream()
                    ws = await client_handshake(
                        stream, self.url, self.subprotocols, self.headers, self.max_message_size
                    )
            except trio.TooSlowError:
                raise ConnectionTimeout(
                    f"no connection to {self.url} within {connect_timeout:g} s"
                ) from None
            except (OSError, trio.BrokenResourceError) as exc:
                # A TLS failure is a BrokenResourceError caused by the ssl.SSLError; a refused
                # one an OSError caused by a group of each address's error: one says it best.
                reason = exc.__cause__ or exc
                reason = lone_exception(reason) or reason
                raise HandshakeError(f"cannot connect to {self.url}: {reason}") from exc
            await self._check_subprotocol(ws)
            try:
                yield ws
            finally:
                with trio.CancelScope(shield=True):
                    await ws.aclose()
        finally:
            if stream is not None:
                # Shielded (it cannot block): in a cancelled scope its checkpoint would raise a
                # Cancelled that replaces the exception on its way out, which the scope then
                # swallows (an on_connect error while the Client closes was lost so).
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)

    async def _open_stream(self) -> trio.abc.Stream:
        parts = urlsplit(self.url)
        secure = parts.scheme == "wss"
        host = parts.hostname or ""
        tcp = await trio.open_tcp_stream(host, parts.port or (443 if secure else 80))
        if not secure:
            return tcp
        context = self.ssl_context or ssl.create_default_context()
        tls = trio.SSLStream(tcp, context, server_hostname=host, https_compatible=True)
        try:
            # Here rather than within the WebSocket handshake, to fail with the TLS reason.
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return tls

    async def _check_subprotocol(self, ws: WebSocketConnection) -> None:
        expected = SUBPROTOCOLS[self.version]
        if ws.subprotocol != expected:
            # CONFORMANCE 6: a 101 without an OCPP subprotocol is closed by the client too.
            await ws.aclose(close_codes.PROTOCOL_ERROR, "no OCPP subprotocol accepted")
            raise NoSubprotocolError(f"the server accepted {ws.subprotocol!r}, not {expected!r}")


@asynccontextmanager
async def connect(
    url: str,
    charge_point_class: type[CP],
    *,
    identity: str | None = None,
    subprotocols: Sequence[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    basic_auth: str | bytes | None = None,
    connect_timeout: float = 30,
    max_message_size: int = MAX_MESSAGE_SIZE,
    **charge_point_options: Any,
) -> AsyncIterator[CP]:
    """Connect to a central system and yield the running ChargePoint.

    ``url`` is the endpoint; with ``identity`` given, the percent-encoded identity is appended,
    else the URL's last path segment is the identity. ``subprotocols`` defaults to the class's
    version. ``basic_auth``: the HTTP Basic password sent with the identity as username
    (security profiles 1-2; bytes for a raw 1.6 AuthorizationKey). ``ssl_context`` for wss://
    (TLS 1.2 or newer; see :func:`client_ssl_context`). ``connect_timeout``: seconds for TCP, TLS
    and the opening handshake together. ``max_message_size``: bytes; a larger message closes
    the connection with 1009. Leaving the block closes the connection and cancels the
    ChargePoint's tasks; an exception raised in the block comes out as itself, not in an
    ExceptionGroup.

    A failed connection raises :class:`HandshakeError`: :class:`ConnectionRejected` (with
    ``status_code`` and ``header(name)``) when the server answered with an HTTP error such as
    401 or 404, :class:`ConnectionTimeout` after ``connect_timeout``, and
    :class:`NoSubprotocolError` when it accepted no OCPP version we offered. (The first three
    extend trio-websocket's exceptions of the same names.)
    """
    target = _Target.make(
        url,
        charge_point_class._ocpp_version,
        identity,
        subprotocols,
        ssl_context,
        extra_headers,
        basic_auth,
        max_message_size,
    )
    async with target.open(connect_timeout) as ws:
        cp = charge_point_class(target.identity, ws, **charge_point_options)
        async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
            nursery.start_soon(cp.start)
            try:
                yield cp
            finally:
                nursery.cancel_scope.cancel()


def retry_backoff(
    wait_minimum: float, random_range: float, repeat_times: int, rng: random.Random
) -> Iterator[float]:
    """The waits before successive reconnection attempts (CONFORMANCE 30): ``wait_minimum``,
    doubled after each failed attempt at most ``repeat_times`` times, plus a fresh random part
    of at most ``random_range`` each time (OCPP 2.0.1 part 4 §5.3)."""
    for attempt in itertools.count():
        yield wait_minimum * 2 ** min(attempt, repeat_times) + rng.uniform(0, random_range)


class Client(Generic[CP]):
    """A charge point that stays connected: ``await nursery.start(client.run)``, then
    ``await client.aclose()`` to stop.

    Each connection runs a new ``charge_point_class`` instance and, beside it,
    ``on_connect(charge_point)`` (boot, heartbeats, ...), which is cancelled when that
    connection ends; a ``ConnectionClosedError`` out of it is part of that, any other exception
    ends :meth:`run`. After a connection ends or an attempt fails (refused, rejected with
    401/404, TLS or handshake error) the client waits :func:`retry_backoff` and tries again; a
    successful connection starts the schedule over. ``on_connect_error(error)`` is told of each
    failed attempt (a :class:`ConnectionRejected` has the refusal's ``status_code``), to count
    them; it is synchronous, and an exception from it ends :meth:`run`. ``rng`` makes the
    random part repeatable.
    The other arguments are :func:`connect`'s, checked here once.
    """

    def __init__(
        self,
        url: str,
        charge_point_class: type[CP],
        *,
        identity: str | None = None,
        on_connect: Callable[[CP], Awaitable[None]] | None = None,
        on_connect_error: Callable[[HandshakeError], object] | None = None,
        retry_backoff_wait_minimum: float = 10,
        retry_backoff_random_range: float = 10,
        retry_backoff_repeat_times: int = 3,
        rng: random.Random | None = None,
        subprotocols: Sequence[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        basic_auth: str | bytes | None = None,
        connect_timeout: float = 30,
        max_message_size: int = MAX_MESSAGE_SIZE,
        **charge_point_options: Any,
    ):
        self._target = _Target.make(
            url,
            charge_point_class._ocpp_version,
            identity,
            subprotocols,
            ssl_context,
            extra_headers,
            basic_auth,
            max_message_size,
        )
        self._connect_timeout = connect_timeout
        self._class = charge_point_class
        self._options = charge_point_options
        self._on_connect = on_connect
        self._on_connect_error = on_connect_error
        self._backoff = (
            retry_backoff_wait_minimum,
            retry_backoff_random_range,
            retry_backoff_repeat_times,
            rng or random.Random(),
        )
        self._charge_point: CP | None = None
        self._connected = trio.Event()  # set while a connection is up
        self._scope = trio.CancelScope()
        self._closing = False
        self._running = False
        self._stopped = trio.Event()

    @property
    def identity(self) -> str:
        return self._target.identity

    @property
    def charge_point(self) -> CP | None:
        """The ChargePoint of the current connection; None between connections (and before
        the first: ``run()`` is started before it connects; see :meth:`connected`)."""
        return self._charge_point

    async def connected(self) -> CP:
        """The ChargePoint of the current connection, once there is one."""
        while self._charge_point is None:
            await self._connected.wait()
        return self._charge_point

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, and reconnect whenever the connection ends, until :meth:`aclose`; an
        exception of ``on_connect`` (other than ConnectionClosedError) ends it, as itself."""
        self._running = True
        try:
            with self._scope:
                task_status.started()
                waits = retry_backoff(*self._backoff)
                while not self._closing:
                    if await self._connect_once():
                        waits = retry_backoff(*self._backoff)
                    wait = next(waits)
                    logger.info("%s: reconnecting in %.1f s", self.identity, wait)
                    await trio.sleep(wait)
        finally:
            self._stopped.set()

    async def _connect_once(self) -> bool:
        """One connection attempt and, when it succeeds, the connection's life: did it connect?"""
        connected = False
        try:
            async with self._target.open(self._connect_timeout) as ws:
                connected = True
                cp = self._class(self.identity, ws, **self._options)
                self._charge_point = cp
                self._connected.set()
                try:
                    async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
                        if self._on_connect is not None:
                            nursery.start_soon(_run_on_connect, self._on_connect, cp)
                        await cp.start()
                        nursery.cancel_scope.cancel()
                finally:
                    self._charge_point = None
                    self._connected = trio.Event()
        except HandshakeError as exc:
            logger.warning("%s: %s", self.identity, escape(str(exc)))
            if self._on_connect_error is not None:
                self._on_connect_error(exc)
        return connected

    async def aclose(self, grace_period: float = 0, *, code: int = close_codes.NORMAL) -> None:
        """Stop reconnecting and close the connection with ``code``, after its running
        handlers and calls finish within ``grace_period`` seconds (:meth:`ChargePoint.shutdown`);
        what is left, ``on_connect`` included, is cancelled. Returns once :meth:`run` has
        returned; called from ``on_connect``, it ends with ``on_connect``, and run() returns."""
        self._closing = True
        try:
            cp = self._charge_point
            if cp is not None:
                await cp.shutdown(grace_period, code, "charge point shutting down")
        finally:
            # Also when cancelled meanwhile: from on_connect, the closing connection cancels it.
            self._scope.cancel()
        if self._running:
            await self._stopped.wait()


async def _run_on_connect(on_connect: Callable[[CP], Awaitable[None]], cp: CP) -> None:
    try:
        await on_connect(cp)
    except* errors.ConnectionClosedError:
        # The connection ended under it: cp.start() returns too, and the client reconnects.
        # except*: on_connect's own tasks may raise it beside the Cancelled of the others.
        logger.info("%s: on_connect stopped: connection closed", cp.id)

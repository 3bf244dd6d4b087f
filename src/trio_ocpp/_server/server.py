"""The central system side: a trio-websocket server with one nursery per charge point connection.

Per connection, before the WebSocket upgrade: the identity is read from the last path segment
(percent-decoded, CONFORMANCE 2), the OCPP version is negotiated from the client's subprotocols
(the first one in the client's order that the server speaks, CONFORMANCE 5-7), HTTP Basic
credentials are checked when the server has ``basic_auth`` (security profiles 1-2,
CONFORMANCE 32), and an optional ``on_connect`` hook may reject the connection with an HTTP
status (404 for an unknown identity, 401 for bad credentials). Then the version's ChargePoint
class runs the connection.
"""

from __future__ import annotations

import functools
import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn, Protocol

import trio

from .._core import close_codes
from .._core.auth import BasicAuthCheck
from .._core.identity import IdentityPolicy, identity_from_path
from .._core.logsafe import RepeatLimiter, escape
from .._core.throttle import address_key
from .._core.ungroup import ungroup
from .._core.versions import SUBPROTOCOLS, OCPPVersion, normalize_version
from .._runtime.charge_point import ChargePoint
from .._runtime.observe import Observer, Observers, overrides
from .._runtime.watchdog import Watchdog
from .._transport.connection import MAX_MESSAGE_SIZE, WebSocketConnection
from .._transport.handshake import OpeningRequest, read_request
from .._transport.receive_budget import RECEIVE_BUDGET, ReceiveBudget
from .._transport.tls import (
    CertificateIdentity,
    ClientCertificate,
    check_tls_version,
    peer_certificate,
)
from .accept import accept_forever
from .admission import Admission, AdmissionStatistics, Ticket, default_max_connections
from .arguments import charge_point_classes, refuse_subprotocols
from .collector import COLLECTOR, Collector, Tally
from .upgrade import Accepted, ConnectionRequest, Gate, RejectConnection, password_table

__all__ = [
    "ConnectionRequest",
    "Membership",
    "RejectConnection",
    "Server",
    "identity_from_path",
    "serve",
]

logger = logging.getLogger("trio_ocpp.server")

#: Seconds its Close frame may take: it is closed to free its descriptor.
_EVICTION_CLOSE_TIMEOUT = 0.2
#: Seconds the closing handshake of a connection may take when the server is cancelled.
_SHUTDOWN_CLOSE_TIMEOUT = 1.0
#: Seconds for the TLS and opening handshakes of a connection: a stalled or hostile client
#: holds a socket and a task no longer; 20 s leaves room for TLS over a slow mobile link.
CONNECT_TIMEOUT = 20
#: Seconds from accept (or the end of TLS) to a whole opening request: a charge point sends it
#: at once, and a slot held by a silent socket is a slot a charge point cannot have.
REQUEST_TIMEOUT = 5
#: Seconds for the TLS handshake: two or three round trips, also over a slow mobile link.
TLS_TIMEOUT = 10
#: Seconds an upgraded connection has to get its first CALL answered (a charge point boots
#: first) before it is the first to be closed when the server needs room (_admission.py).
BOOT_TIMEOUT = 60


class Membership(Protocol):
    """Told when a charge point connects and leaves: a cluster node (``trio_ocpp.cluster``)."""

    def claim(self, cp: ChargePoint) -> None:
        """``cp`` is now this server's connection of ``cp.id``."""

    def release(self, cp: ChargePoint) -> None:
        """``cp`` ended, and no newer connection of ``cp.id`` replaced it here."""


ChargePointClasses = type[ChargePoint] | Iterable[type[ChargePoint]]
OnConnect = Callable[[ConnectionRequest], Awaitable[None]]
BasicAuth = BasicAuthCheck | Mapping[str, str | bytes]


class Server:
    """A central system: run it with ``await nursery.start(server.run)``.

    ``charge_points``: the ChargePoint class of each version the server speaks (one class, or
    several of different versions). ``default_version``: the version for clients that offer no
    subprotocol at all (off by default: such clients are closed, CONFORMANCE 6).
    ``charge_point_options`` are passed to each ChargePoint (``response_timeout``, ...).

    Admission (``_admission.py``): ``max_connections`` bounds the connections held, handshakes
    included (None: what the descriptor limit leaves after a reserve), ``max_handshakes`` those
    between accept and upgrade. At either limit, and out of descriptors, a connection that has
    not yet had a CALL answered is closed to make room (an upgraded one with 1013): first one
    upgraded more than ``boot_timeout`` seconds ago, then the one waiting longest since accept;
    a charge point whose CALL was answered is never closed for another. A newcomer for whom
    nothing may be closed is refused (HTTP 503, or closed at once past ``max_handshakes``).
    ``request_timeout``: seconds from accept (or the end of TLS) to a whole opening request;
    ``tls_timeout``: seconds for the TLS handshake.
    ``basic_auth``: HTTP Basic auth before the upgrade (security profiles 1-2), either a mapping
    ``identity -> password`` (an unknown identity gets 404) or ``async def check(identity,
    password: bytes) -> bool``; a missing or malformed header, a username other than the
    identity, or a refused password gets 401. ``ssl_context`` (TLS 1.2 or newer; see
    :func:`server_ssl_context`) serves wss:// (profiles 2-3). ``identity_policy``: which
    identities are refused before the upgrade (400; no identity: 404): not printable, longer
    than its ``max_length`` (48), and in 2.x more than 48 characters or a ':' (CONFORMANCE 38);
    raise ``max_length`` for long legacy 1.6 identities. ``certificate_identity``: a rule
    binding the identity to the client certificate (profile 3), ``(identity, ClientCertificate)
    -> bool``, e.g. :func:`common_name_is_identity`; a connection it refuses, or one without a
    client certificate, gets 403 before the upgrade (it needs an ``ssl_context`` that asks for
    client certificates). ``cluster``: a :class:`Membership` told of each charge point, e.g.
    ``trio_ocpp.cluster.connect(...)``.
    ``receive_budget``: bytes that unfinished incoming messages may hold across connections
    (256 MiB; None: no bound in total), past which the biggest holders are closed with 1009;
    a :class:`ReceiveBudget` also sets how long a message may take to arrive (120 s).
    ``observers``: :class:`~trio_ocpp.Observer` objects told of every connection's frames,
    exchanges, opening and end (:meth:`add_observer` adds one for the connections to come).
    ``collector``: while it runs, past 1,000 connections, the server runs young collections
    every 0.25 s, sooner as they grow (for 1 ms each), and freezes what survived
    (``gc.freeze()``) so that the cyclic collector's pauses stay short, and thaws it all, in a
    full collection, when a quarter of them ended and every 15 minutes
    (:class:`~trio_ocpp.Collector`); None leaves the collector alone.
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
        max_handshakes: int | None = None,
        basic_auth: BasicAuth | None = None,
        identity_policy: IdentityPolicy | None = None,
        certificate_identity: CertificateIdentity | None = None,
        cluster: Membership | None = None,
        request_timeout: float = REQUEST_TIMEOUT,
        tls_timeout: float = TLS_TIMEOUT,
        boot_timeout: float = BOOT_TIMEOUT,
        receive_budget: ReceiveBudget | int | None = RECEIVE_BUDGET,
        observers: Iterable[Observer] = (),
        collector: Collector | None = COLLECTOR,
    ):
        classes = charge_point_classes(charge_points)
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
        if ssl_context is not None:
            check_tls_version(ssl_context)
        self._ssl_context = ssl_context
        if certificate_identity is not None and (
            ssl_context is None or ssl_context.verify_mode == ssl.CERT_NONE
        ):
            raise ValueError("certificate_identity needs an ssl_context with client certificates")
        self._options = dict(charge_point_options or {})
        self._observers = list(observers)
        # Told of refused handshakes: only those that listen, so a flood costs no calls.
        self._refusal_hooks = tuple(o.handshake_refused for o in self._observers if _refusals(o))
        self._cluster = cluster
        self._receive_budget = (
            receive_budget
            if isinstance(receive_budget, ReceiveBudget)
            else ReceiveBudget(receive_budget)
        )
        self._connected: dict[str, ChargePoint] = {}
        self._collector = collector
        self._tally = Tally()
        # Keep-alive pings and send timeouts of every connection, from one task.
        self._watchdog = Watchdog()
        # Who keeps a slot when they run out (_admission.py).
        self._admission = Admission(
            max_handshakes,
            default_max_connections() if max_connections is None else max_connections,
            boot_timeout,
        )
        self._request_timeout = request_timeout
        # The common opening request read in one scan (_transport/handshake.py); tests and
        # benchmarks compare it with websockets' general path.
        self._fast_handshakes = True
        self._tls_timeout = tls_timeout
        # Warnings a peer can make the server repeat at will (refused handshakes), kept to a
        # burst per kind and source (identity or address) per 10 s and then counted, so that
        # floods cannot flood the log nor hide the lines about others; summed up at each end.
        self._warnings = RepeatLimiter(logger, "server", burst=5, alarms=self._watchdog)
        self._gate = Gate(
            self.classes,
            self.default_version,
            identity_policy=identity_policy or IdentityPolicy(),
            certificate_identity=certificate_identity,
            check_password=(
                password_table(basic_auth) if isinstance(basic_auth, Mapping) else basic_auth
            ),
            on_connect=on_connect,
            warnings=self._warnings,
            receive_budget=self._receive_budget,
            warn=self._warn,
            warn_address=self._warn_address,
            refused=self._refused,
        )
        #: Connections that ended with an exception nobody foresaw (each logged once).
        self.connection_failures = 0
        self._accepting = True
        self._scope = trio.CancelScope()
        self._port: int | None = None

    def add_observer(self, observer: Observer) -> None:
        """Tell ``observer`` of the connections that open from now on."""
        self._observers.append(observer)
        if _refusals(observer):
            self._refusal_hooks += (observer.handshake_refused,)

    @property
    def charge_points(self) -> Mapping[str, ChargePoint]:
        """The charge points connected now, by identity (read-only view)."""
        return self._connected

    def get(self, identity: str) -> ChargePoint | None:
        return self._connected.get(identity)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def subprotocols(self) -> list[str]:
        return [SUBPROTOCOLS[v] for v in self.classes]

    async def run(
        self,
        host: str | None = "0.0.0.0",
        port: int = 9000,
        *,
        listeners: list[trio.SocketListener] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        max_message_size: int = MAX_MESSAGE_SIZE,
        task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled or :meth:`shutdown`; ``task_status.started(self)`` once listening.

        ``listeners``: accept on these rather than on ``host`` and ``port`` (workers sharing a
        port make their own sockets: :mod:`trio_ocpp.workers`).
        ``connect_timeout``: seconds for the TLS and opening handshakes of a connection.
        ``max_message_size``: bytes; a larger message closes its connection with 1009.
        Cancelling closes every connection with 1001 (going away).
        """
        budget = self._receive_budget.max_bytes
        if budget is not None and budget < 2 * max_message_size:
            raise ValueError("receive_budget must hold two messages of max_message_size at least")
        handler = functools.partial(self._handle_stream, connect_timeout, max_message_size)
        with self._scope:
            if listeners is None:
                listeners = await trio.open_tcp_listeners(port, host=host)
            await self._serve(listeners, handler, task_status)

    async def _serve(
        self,
        listeners: list[trio.SocketListener],
        handler: Callable[[trio.SocketStream], Awaitable[None]],
        task_status: trio.TaskStatus[Server],
    ) -> NoReturn:
        self._port = listeners[0].socket.getsockname()[1]
        async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
            nursery.start_soon(self._watchdog.run)
            if self._collector is not None:
                nursery.start_soon(self._collector.run, self._tally)
            await nursery.start(self._receive_budget.run)
            for listener in listeners:
                await nursery.start(
                    accept_forever,
                    listener,
                    handler,
                    nursery,
                    self._make_room,
                    self._warnings,
                    self._admission.room,
                )
            scheme = "wss" if self._ssl_context else "ws"
            logger.info(
                "listening on port %d (%s) for %s", self.port, scheme, ", ".join(self.subprotocols)
            )
            task_status.started(self)
            await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def shutdown(self, grace_period: float = 10) -> None:
        """Stop: refuse new connections, let each connection finish its handlers and calls
        within ``grace_period`` seconds, close them with 1001, then stop listening.
        ``trio_ocpp.stop_on_signals`` calls it on SIGINT or SIGTERM."""
        self._accepting = False
        async with trio.open_nursery() as nursery:
            for cp in list(self._connected.values()):
                nursery.start_soon(
                    cp.shutdown, grace_period, close_codes.GOING_AWAY, "server shutting down"
                )
        self._scope.cancel()

    async def _handle_stream(
        self, connect_timeout: float, max_message_size: int, tcp: trio.SocketStream
    ) -> None:
        """One TCP connection, from accept to close. Whatever it raises ends it alone: logged
        once, counted in ``connection_failures``, and the server goes on (CONFORMANCE 37)."""
        stream: trio.abc.Stream = tcp
        ticket: Ticket | None = None
        peer = ""
        try:
            peer = _remote(tcp)
            ticket = self._admission.accepted(trio.current_time())
            if ticket is None:
                self._warn_address(peer, "%s: refused: server full")
                self._refused(peer, "limits")
                return
            ticket.peer = peer
            with ticket.scope:
                stream = await self._serve_connection(
                    ticket, tcp, connect_timeout, max_message_size
                )
            if ticket.timed_out is not None:
                logger.info(ticket.timed_out[0], peer, ticket.timed_out[1])
        except* Exception:
            self.connection_failures += 1
            logger.exception("%s: connection failed", ticket or peer)
        finally:
            if ticket is not None and ticket.evicted:
                source = address_key(ticket.peer)
                self._warn(source, "%s: closed to make room for another connection", ticket)
            if _open(tcp):  # the connection closed it already, most often
                await trio.aclose_forcefully(stream)
            if ticket is not None:
                self._admission.closed(ticket)

    async def _serve_connection(
        self, ticket: Ticket, tcp: trio.SocketStream, connect_timeout: float, max_message_size: int
    ) -> trio.abc.Stream:
        """The handshakes, then the charge point: the stream to close at the end."""
        stream: trio.abc.Stream = tcp
        remote = ticket.peer
        # Each limit in a scope of its own would cost a connection one more (a scope costs
        # about what a tenth of its handshake does): the earlier of the two running decides,
        # and while the request is read, the watchdog keeps it (Ticket.alarm).
        deadline = trio.current_time() + connect_timeout
        if self._ssl_context is not None:
            with trio.move_on_at(deadline) as handshake:
                with trio.move_on_after(self._tls_timeout) as tls:
                    stream = await self._tls(tcp, remote)
            if tls.cancelled_caught:
                logger.info("%s: no TLS handshake within %g s", remote, self._tls_timeout)
                return stream
            if handshake.cancelled_caught:
                logger.info("%s: no opening handshake within %g s", remote, connect_timeout)
                return stream
            if stream is tcp:
                return stream
        request_deadline = trio.current_time() + self._request_timeout
        if request_deadline < deadline:
            ticket.reading = ("%s: no opening request within %g s", self._request_timeout)
        else:
            ticket.reading = ("%s: no opening handshake within %g s", connect_timeout)
        until = min(deadline, request_deadline)
        if until < math.inf:  # unbounded: no wake-up kept for good
            self._watchdog.arm(until, ticket)  # which cancels ticket.scope then
        request = await read_request(stream, max_message_size, fast=self._fast_handshakes)
        ticket.reading = None
        if request is None:
            return stream
        certificate = peer_certificate(stream) if isinstance(stream, trio.SSLStream) else None
        accepted = await self._handle_request(request, ticket, certificate)
        del request  # a connection lives long: what only its handshake needed goes
        if accepted is not None:
            ticket.identity = escape(accepted[0])
            await self._run_charge_point(ticket, tcp, *accepted)
        return stream

    def _unregister(self, cp: ChargePoint) -> None:
        """``cp`` ended: unless a newer connection of its identity replaced it, it is gone."""
        if self._connected.get(cp.id) is cp:
            del self._connected[cp.id]
            if self._cluster is not None:
                self._cluster.release(cp)

    async def _make_room(self) -> bool:
        """Out of descriptors: lower ``max_connections`` below what the process could hold,
        close connections that have not proven themselves down to it, and wait (a little)
        until they let their descriptors go; False if none could be closed."""
        admission = self._admission
        closed = admission.out_of_descriptors(trio.current_time())
        self._warn(
            "",
            "out of file descriptors at %d connections: at most %d from now on",
            admission.connections + len(closed),
            admission.max_connections,
        )
        with trio.move_on_after(1):
            for ticket in closed:
                await ticket._ended_signal().wait()
        return bool(closed)

    def admission_statistics(self) -> AdmissionStatistics:
        """Connections held, handshakes in progress, unproven ones, evicted and refused."""
        return self._admission.statistics()

    def _warn(self, source: str, message: str, *args: Any) -> None:
        """Warn of what a peer can repeat at will; ``source`` (an identity, or an address as
        ``address_key`` gives it) has a budget of its own."""
        self._warnings.warning(trio.current_time(), message, *args, source=source)

    def _refused(self, remote: str, reason: str) -> None:
        """Tell the observers that listen of a handshake refused for ``reason``."""
        if self._refusal_hooks:
            Observers.tell(self._refusal_hooks, remote, reason)

    def _warn_address(self, remote: str, message: str, *args: Any) -> None:
        """:meth:`_warn` about the peer at ``remote`` (``host:port``, the first ``%s``), before
        it has an identity: the budget is its host's."""
        self._warn(address_key(remote), message, remote, *args)

    async def _tls(self, tcp: trio.SocketStream, remote: str) -> trio.abc.Stream:
        """The TLS handshake, on its own so that a failed one (no client certificate, an
        expired one) is logged with its reason: the TLS stream, or ``tcp`` if it failed."""
        assert self._ssl_context is not None
        tls = trio.SSLStream(tcp, self._ssl_context, server_side=True, https_compatible=True)
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError as exc:
            self._warn_address(remote, "%s: TLS handshake failed: %s", escape(exc.__cause__ or exc))
            self._refused(remote, "tls")
            return tcp
        return tls

    async def _handle_request(
        self, handshake: OpeningRequest, ticket: Ticket, certificate: ClientCertificate | None
    ) -> Accepted | None:
        """Accept or reject one request: the connection to run, or None."""
        remote = ticket.peer
        busy = not self._admission.room_for(ticket, trio.current_time())
        if busy or not self._accepting:
            self._warn_address(remote, "refusing %s: %s", "server full" if busy else "stopping")
            self._refused(remote, "limits")
            await handshake.reject(503)
            return None
        return await self._gate.admit(handshake, remote, certificate)

    async def _run_charge_point(
        self,
        ticket: Ticket,
        tcp: trio.SocketStream,
        identity: str,
        version: OCPPVersion,
        ws: WebSocketConnection,
        certificate: ClientCertificate | None,
    ) -> None:
        cp = self.classes[version](identity, ws, **self._options)
        cp.client_certificate = certificate
        cp._watchdog = self._watchdog
        cp._share_warnings(self._warnings)
        cp._on_first_answer = functools.partial(self._admission.proven, ticket)
        cp._farewell = functools.partial(_farewell, ticket)
        for observer in self._observers:
            cp.add_observer(observer)
        self._admission.upgraded(ticket, trio.current_time())
        # The newest connection of an identity wins, at once (no await between the look-up
        # and the registration, so racing handshakes cannot both register): the old one is
        # most likely half-open. It is registered before its 101 goes out (with the
        # connection's first read): once the client has it, server.get(identity) finds it.
        previous = self._connected.get(identity)
        self._connected[identity] = cp
        # Gone from the registry before its disconnected() runs.
        cp._on_end = self._unregister
        self._tally.opened += 1
        try:
            if self._cluster is not None:
                self._cluster.claim(cp)
            if previous is not None:
                self._warn(
                    identity, "%s: new connection replaces the previous one", escape(identity)
                )
                # Its disconnected() before this one's connected().
                cp._predecessor = previous._ended_signal()
                previous.close_soon(close_codes.REPLACED, "replaced by a new connection")
            logger.info("%s: connected (OCPP %s)", escape(identity), version)
            await cp.start()
        finally:
            self._tally.ended += 1
            self._unregister(cp)
            # Closed by start() already (its socket with it), unless it never ran; then as
            # start() would have.
            if _open(tcp):
                code, reason, seconds = _farewell(ticket)
                with trio.CancelScope(shield=True), trio.move_on_after(seconds):
                    await ws.aclose(code, reason)


def _refusals(observer: Observer) -> bool:
    return overrides(observer, "handshake_refused")


def _farewell(ticket: Ticket) -> tuple[int, str, float]:
    """How a connection whose ChargePoint the server cancels is closed: quickly when it was
    evicted (its descriptor is wanted; cut short, the socket is closed anyway), else as a
    server that stops says so."""
    if ticket.evicted:
        return close_codes.TRY_AGAIN_LATER, "server full", _EVICTION_CLOSE_TIMEOUT
    return close_codes.GOING_AWAY, "server shutting down", _SHUTDOWN_CLOSE_TIMEOUT


def _open(tcp: trio.SocketStream) -> bool:
    """Whether ``tcp`` is still to be closed: a connection closes its stream last of all when it
    ends (TLS: the TCP stream under it too), so once it is closed nothing of it is left to do."""
    return tcp.socket.fileno() >= 0


def _remote(tcp: trio.SocketStream) -> str:
    """The peer's address, ``host:port``; it may be gone (reset) already."""
    try:
        host, port, *_ = tcp.socket.getpeername()
    except OSError:
        return "a peer gone"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    charge_points: ChargePointClasses,
    host: str | None = "0.0.0.0",
    port: int = 9000,
    *,
    listeners: list[trio.SocketListener] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    max_message_size: int = MAX_MESSAGE_SIZE,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
    subprotocols: object = None,
    **options: Any,
) -> None:
    """Run a central system until cancelled: ``server = await nursery.start(serve, MyCP, ...)``.

    ``Server(charge_points, **options).run(host, port, ...)``: ``options`` are the
    :class:`Server`'s (``default_version``, ``basic_auth``, ``cluster``...), the others
    :meth:`Server.run`'s. ``subprotocols`` is not taken (``websockets.serve`` has it): given,
    it raises a TypeError that says what replaces it.
    """
    refuse_subprotocols(subprotocols)
    await Server(charge_points, **options).run(
        host,
        port,
        listeners=listeners,
        connect_timeout=connect_timeout,
        max_message_size=max_message_size,
        task_status=task_status,
    )

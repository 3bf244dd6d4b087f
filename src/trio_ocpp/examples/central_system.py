"""An example central system (CSMS) that answers the everyday messages of every OCPP version.

It accepts every charge point, answers BootNotification, Heartbeat, StatusNotification,
Authorize, MeterValues and the transaction messages, and logs every frame. ``python -m trio_ocpp``
runs it; ``main()`` shows how an application runs a server next to its own tasks, with the
security profiles as options (Basic auth passwords, TLS, client certificates) and
:class:`RequireBoot` as an example of ``pre_dispatch``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import trio

from trio_ocpp import (
    CertificateIdentity,
    Collector,
    IdentityPolicy,
    Membership,
    Observer,
    Server,
    common_name_is_identity,
    exceptions,
    stop_on_signals,
    v16,
    v21,
    v201,
)
from trio_ocpp.charge_point import ChargePoint
from trio_ocpp.messages import Call, Send
from trio_ocpp.routing import after, on
from trio_ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

logger = logging.getLogger("trio_ocpp.examples.central_system")

HEARTBEAT_INTERVAL = 10


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


class CentralSystem16(v16.ChargePoint):
    """The central system's side of an OCPP 1.6 connection."""

    _transaction_ids = itertools.count(1)

    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> v16.call_result.BootNotification:
        return v16.call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: Any) -> v16.call_result.StatusNotification:
        return v16.call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> v16.call_result.Authorize:
        return v16.call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> v16.call_result.MeterValues:
        return v16.call_result.MeterValues()

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **kwargs: Any) -> v16.call_result.StartTransaction:
        return v16.call_result.StartTransaction(
            transaction_id=next(self._transaction_ids),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **kwargs: Any) -> v16.call_result.StopTransaction:
        return v16.call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


class _CentralSystem2x:
    """The handlers 2.0.1 and 2.1 share; ``results`` is the version's call_result module."""

    results: ModuleType

    @on("BootNotification")
    def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> Any:
        return self.results.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return self.results.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status_notification(self, **kwargs: Any) -> Any:
        return self.results.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
        return self.results.Authorize(id_token_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        return self.results.MeterValues()

    @on("TransactionEvent")
    def on_transaction_event(self, id_token: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if id_token is None:
            return self.results.TransactionEvent()
        return self.results.TransactionEvent(id_token_info={"status": "Accepted"})


class CentralSystem201(_CentralSystem2x, v201.ChargePoint):
    """The central system's side of an OCPP 2.0.1 connection."""

    results = v201.call_result


class CentralSystem21(_CentralSystem2x, v21.ChargePoint):
    """The central system's side of an OCPP 2.1 connection."""

    results = v21.call_result


CLASSES = {"1.6": CentralSystem16, "2.0.1": CentralSystem201, "2.1": CentralSystem21}


class RequireBoot(ChargePoint):
    """Mix in before a central system class: every CALL but BootNotification from a charge point
    that has not booted since the server started is refused with SecurityError (1.6-J errata
    3.8). Identities are remembered across reconnects: a charge point need not boot again."""

    booted: ClassVar[set[str]]

    async def pre_dispatch(self, message: Call | Send) -> None:
        if message.action != "BootNotification" and self.id not in self.booted:
            raise exceptions.SecurityError("Send BootNotification first")

    @after("BootNotification")
    def remember_boot(self) -> None:
        self.booted.add(self.id)  # the example accepts every boot


def require_boot(cls: type[ChargePoint]) -> type[ChargePoint]:
    """``cls`` with :class:`RequireBoot`, remembering boots of its own."""
    return type(cls.__name__, (RequireBoot, cls), {"booted": set()})


def read_passwords(path: str | Path) -> dict[str, str | bytes]:
    """Basic auth passwords from lines ``identity:password`` (blank lines and ``#`` comments are
    skipped). ``identity:hex:0a1b...`` is a raw key given in hex: a 1.6 AuthorizationKey is 20
    bytes that need not be text."""
    passwords: dict[str, str | bytes] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        identity, colon, password = line.partition(":")
        if not colon or not identity:
            raise ValueError(f"{path}:{number}: expected identity:password")
        passwords[identity] = parse_password(password)
    return passwords


def parse_password(text: str) -> str | bytes:
    """A password as written on a command line or in a passwords file: ``hex:0a1b...`` is a raw
    key (a 1.6 AuthorizationKey need not be text), anything else the password itself."""
    return bytes.fromhex(text.removeprefix("hex:")) if text.startswith("hex:") else text


async def main(
    host: str = "0.0.0.0",
    port: int = 9000,
    versions: tuple[str, ...] = ("2.1", "2.0.1", "1.6"),
    default_version: str | None = "1.6",
    *,
    basic_auth: Mapping[str, str | bytes] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    certificate_identity: CertificateIdentity | None = common_name_is_identity,
    boot_first: bool = False,
    max_handshakes: int | None = 1000,
    max_connections: int | None = None,
    boot_timeout: float | None = None,
    receive_budget: int | None = 256 * 2**20,
    identity_policy: IdentityPolicy | None = None,
    cluster: Membership | None = None,
    listeners: list[trio.SocketListener] | None = None,
    grace_period: float = 10,
    observers: Iterable[Observer] = (),
    alongside: Callable[[Server], Awaitable[object]] | None = None,
    gc_freeze: bool = True,
) -> None:
    """Serve until SIGINT or SIGTERM (:func:`trio_ocpp.stop_on_signals`, as an application
    embedding a server would): then running handlers get ``grace_period`` seconds, and every
    connection is closed with 1001 (going away).

    ``default_version`` serves clients that offer no subprotocol, so that generic tools
    (``python -m websockets``, wscat without ``-s``) can talk to it.
    ``basic_auth``: identity -> password (security profiles 1-2); ``ssl_context``: wss://
    (profile 2, or 3 when it requires client certificates); ``certificate_identity``: in profile
    3, which identities a certificate may connect as (by default the identity must be its single
    CN; None: any); ``boot_first``: RequireBoot;
    ``max_handshakes``, ``max_connections``, ``boot_timeout`` (None: the server's default):
    the server's admission limits (``Server``); ``identity_policy``: the identities refused
    before the upgrade; ``receive_budget``: bytes that unfinished messages may hold across
    connections.
    ``cluster``: a cluster node (``trio_ocpp.cluster.connect``);
    ``listeners``: sockets to accept on instead of ``host`` and ``port`` (workers sharing a
    port); ``observers``: the server's (metrics, traces, ``--record``'s recorder);
    ``alongside``: a task to run with the server once it listens (the operator's HTTP side);
    ``gc_freeze``: the server's :class:`Collector` keeps the garbage collector's full
    collections short (False: CPython's own behaviour)."""
    classes = [CLASSES[v] for v in versions]
    admission: dict[str, Any] = {} if boot_timeout is None else {"boot_timeout": boot_timeout}
    if ssl_context is None or ssl_context.verify_mode == ssl.CERT_NONE:
        certificate_identity = None  # no client certificates: nothing to bind
    server = Server(
        [require_boot(cls) for cls in classes] if boot_first else classes,
        default_version=default_version if default_version in versions else None,
        basic_auth=basic_auth,
        ssl_context=ssl_context,
        certificate_identity=certificate_identity,
        max_handshakes=max_handshakes,
        max_connections=max_connections,
        **admission,
        receive_budget=receive_budget,
        identity_policy=identity_policy,
        cluster=cluster,
        observers=observers,
        collector=Collector() if gc_freeze else None,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run, host, port, listeners=listeners))
        scheme = "ws" if ssl_context is None else "wss"
        logger.info(
            "central system listening on %s://%s:%d/<charge point id>", scheme, host, server.port
        )
        if alongside is not None:
            nursery.start_soon(alongside, server)
        await stop_on_signals(server, grace_period=grace_period)
        nursery.cancel_scope.cancel()  # an application's other tasks would end here

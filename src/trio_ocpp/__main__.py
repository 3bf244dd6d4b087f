"""``python -m trio_ocpp``: run the example central system."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from . import __version__
from ._core.identity import IdentityPolicy
from ._runtime.observe import Observer
from ._server.server import Server
from ._server.signals import run_until_signalled
from ._transport.tls import common_name_is_identity, server_ssl_context
from .examples.central_system import CLASSES, main, read_passwords
from .observability.logs import configure as configure_logging
from .workers import WorkerSet, WorkerStartError, run_workers

if TYPE_CHECKING:
    from .observability.scrape import Figures

logger = logging.getLogger("trio_ocpp.examples.central_system")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trio_ocpp", description="Run the trio-ocpp example central system."
    )
    parser.add_argument("--version", action="version", version=f"trio-ocpp {__version__}")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (0.0.0.0)")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on (9000)")
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO shows frames)")
    parser.add_argument(
        "--log-format",
        choices=("plain", "json"),
        default="plain",
        help="plain lines, or one JSON object per line: time, level, logger, worker, text, and "
        "for a frame identity, direction, action, message_id (plain)",
    )
    parser.add_argument(
        "--frames-at-debug",
        action="store_true",
        help="log the frames at DEBUG, not INFO: INFO stays quiet in production",
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=5,
        metavar="SECONDS",
        help="on SIGINT or SIGTERM, seconds for running handlers and calls to finish before "
        "every connection is closed with 1001; a second signal stops at once (5)",
    )
    parser.add_argument(
        "--versions",
        default="2.1,2.0.1,1.6",
        help="comma-separated OCPP versions to speak (2.1,2.0.1,1.6)",
    )
    parser.add_argument(
        "--default-version",
        default="1.6",
        help="version for clients that offer no subprotocol; 'none' to close them (1.6)",
    )
    security = parser.add_argument_group("security profiles")
    security.add_argument(
        "--basic-auth",
        metavar="FILE",
        help="require HTTP Basic auth (profiles 1-2): lines identity:password, or "
        "identity:hex:<hex> for a raw 1.6 AuthorizationKey; # starts a comment",
    )
    security.add_argument(
        "--certfile", metavar="FILE", help="serve wss:// with this PEM certificate chain (2-3)"
    )
    security.add_argument("--keyfile", metavar="FILE", help="its private key, if not in certfile")
    security.add_argument(
        "--cafile",
        metavar="FILE",
        help="require client certificates issued by these CAs (profile 3); a charge point's "
        "identity must be its certificate's single CN, else HTTP 403",
    )
    security.add_argument(
        "--unbound-certificates",
        action="store_true",
        help="with --cafile: let any valid client certificate connect as any identity",
    )
    parser.add_argument(
        "--max-identity-length",
        type=int,
        default=48,
        help="longest identity accepted; 2.x never takes more than 48 (48)",
    )
    admission = parser.add_argument_group(
        "admission",
        "at a limit, a connection that has not had a CALL answered is closed to make room: one "
        "past --boot-timeout first, then the one waiting longest; booted ones never are",
    )
    admission.add_argument(
        "--max-handshakes",
        type=int,
        default=1000,
        help="connections between accept and upgrade (1000)",
    )
    admission.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="connections held, handshakes included (what the descriptor limit leaves)",
    )
    admission.add_argument(
        "--boot-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds to a first CALL answered, past which a connection goes first (60)",
    )
    parser.add_argument(
        "--receive-budget",
        type=int,
        default=256,
        metavar="MIB",
        help="MiB that unfinished messages may hold across connections; past it the biggest "
        "holders are closed with 1009 (256)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave CPython's garbage collector alone: past 1,000 connections the server "
        "freezes what survives young collections, to keep its pauses short (README: the "
        "garbage collector)",
    )
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="record every connection's frames in DIR, one <identity>.jsonl each, for "
        "trio_ocpp.testing.replay",
    )
    parser.add_argument(
        "--boot-first",
        action="store_true",
        help="refuse CALLs before BootNotification with SecurityError (a pre_dispatch example)",
    )
    scale = parser.add_argument_group("more than one process")
    scale.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="N worker processes on one port (SO_REUSEPORT); each on its own without --cluster",
    )
    scale.add_argument(
        "--cluster",
        metavar="URL",
        help="join the cluster on this Redis, redis://host:port (needs trio-ocpp[redis])",
    )
    scale.add_argument(
        "--cluster-events",
        default="",
        metavar="ACTIONS",
        help="comma-separated actions whose answered CALLs go to the cluster's event stream",
    )
    operate = parser.add_argument_group("operating it")
    operate.add_argument(
        "--metrics",
        type=_address,
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (needs trio-ocpp[metrics]); "
        "with --workers, every worker's in one scrape",
    )
    operate.add_argument(
        "--http",
        type=_address,
        metavar="HOST:PORT",
        help="serve the operator API and live page at http://HOST:PORT/ (needs "
        "trio-ocpp[http]); off loopback only with --http-auth; with --workers, the "
        "supervisor serves it for every worker",
    )
    operate.add_argument(
        "--http-auth",
        metavar="FILE",
        help="require HTTP Basic credentials for --http: the first line of FILE, user:password",
    )
    args = parser.parse_args(argv)
    if args.http:
        _needs(parser, "--http", "hypercorn", "http")
        args.http_auth = _credentials(parser, args.http_auth)
        from .observability.http import check_exposure

        try:
            check_exposure(args.http[0], args.http_auth)
        except ValueError as exc:
            parser.error(f"--http: {exc}: give --http-auth")
    if args.metrics:
        _needs(parser, "--metrics", "prometheus_client", "metrics")
    args.cluster_events = tuple(a.strip() for a in args.cluster_events.split(",") if a.strip())
    if args.cluster_events and not args.cluster:
        parser.error("--cluster-events needs --cluster")
    if args.cluster:
        _needs(parser, "--cluster", "trio_ocpp.cluster")
    if (args.keyfile or args.cafile) and not args.certfile:
        parser.error("--keyfile and --cafile need --certfile")
    if args.unbound_certificates and not args.cafile:
        parser.error("--unbound-certificates needs --cafile")
    args.versions = tuple(v.strip() for v in args.versions.split(",") if v.strip())
    unknown = set(args.versions) - set(CLASSES)
    if unknown:
        parser.error(f"unknown versions: {', '.join(sorted(unknown))}")
    if args.default_version.lower() == "none":
        args.default_version = None
    return args


def _needs(parser: argparse.ArgumentParser, flag: str, module: str, extra: str = "") -> None:
    """Exit with one line when ``flag``'s optional dependency is missing: checked here, once
    (in the workers it would fail each time one starts)."""
    try:
        importlib.import_module(module)
    except ImportError as exc:  # one line: the usage would not help
        cause = exc.__cause__ or (f'pip install "trio-ocpp[{extra}]"' if extra else "import failed")
        parser.exit(2, f"{parser.prog}: error: {flag}: {exc} ({cause})\n")


def _credentials(parser: argparse.ArgumentParser, path: str | None) -> tuple[str, str] | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            user, sep, password = file.readline().strip().partition(":")
    except OSError as exc:
        parser.error(f"--http-auth: {exc}")
    if not sep or not user or not password:
        parser.error("--http-auth: the file's first line must be user:password")
    return user, password


def _address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def run(argv: list[str] | None = None) -> None:
    """SIGINT or SIGTERM stops the server gracefully (``main`` stops it with
    :func:`trio_ocpp.stop_on_signals`); one that comes before it listens, or after, cancels."""
    args = parse_args(argv)
    args.http_sockets = None
    with contextlib.ExitStack() as stack:
        figures = None
        if _counted(args):
            from .observability import scrape  # the optional extra: imported only when asked

            figures = stack.enter_context(scrape.collecting(processes=bool(args.workers)))
            if args.metrics:
                stack.enter_context(figures.serving(*args.metrics))
        if args.http and args.workers:  # where each worker serves its charge points' side
            directory = tempfile.TemporaryDirectory(prefix="trio-ocpp-http-")
            args.http_sockets = stack.enter_context(directory)
        _run(args, figures)


def _counted(args: argparse.Namespace) -> bool:
    """Metrics on: asked for, or shown by the HTTP side when the extra is there."""
    return bool(args.metrics or (args.http and importlib.util.find_spec("prometheus_client")))


def _run(args: argparse.Namespace, figures: Figures | None) -> None:
    if args.workers:
        multiprocessing.current_process().name = "supervisor"  # in its log lines, as workers'
        _log(args)
        # Workers unpickle serve by its module's name, and a worker's __main__ is not this.
        from trio_ocpp.__main__ import serve as importable

        try:
            # The parent kills a worker still running a little after its own grace period.
            run_workers(
                functools.partial(importable, args),
                args.workers,
                args.host,
                args.port,
                grace_period=args.grace_period + 5,
                alongside=functools.partial(_workers_http, args, figures) if args.http else None,
                ended=None if figures is None else figures.process_ended,
            )
        except WorkerStartError:
            raise SystemExit(1) from None  # the supervisor logged the cause
    else:
        run_until_signalled(functools.partial(serve, args))


def _log(args: argparse.Namespace) -> None:
    # With workers, each line says which process wrote it: "supervisor" or "worker <index>".
    configure_logging(
        args.log_level,
        json=args.log_format == "json",
        frames_at_debug=args.frames_at_debug,
        processes=bool(args.workers),
    )


async def serve(
    args: argparse.Namespace, listeners: list[trio.SocketListener] | None = None
) -> None:
    """The example central system as ``args`` say: in this process, or in a worker's."""
    _log(args)
    central_system = functools.partial(
        main,
        args.host,
        args.port,
        args.versions,
        args.default_version,
        basic_auth=read_passwords(args.basic_auth) if args.basic_auth else None,
        ssl_context=(
            server_ssl_context(args.certfile, args.keyfile, cafile=args.cafile)
            if args.certfile
            else None
        ),
        certificate_identity=None if args.unbound_certificates else common_name_is_identity,
        boot_first=args.boot_first,
        max_handshakes=args.max_handshakes,
        max_connections=args.max_connections,
        boot_timeout=args.boot_timeout,
        receive_budget=args.receive_budget * 2**20,
        identity_policy=IdentityPolicy(max_length=args.max_identity_length),
        listeners=listeners,
        grace_period=args.grace_period,
        gc_freeze=not args.no_gc_freeze,
    )
    async with contextlib.AsyncExitStack() as stack:
        node = None
        if args.cluster is not None:
            from . import cluster  # the optional extra: imported only when asked for

            connecting = cluster.connect(args.cluster, events=args.cluster_events)
            node = await stack.enter_async_context(connecting)
            name = node.node_id
        else:
            name = multiprocessing.current_process().name if args.workers else ""
        observers = _observers(args, name)
        if args.workers and _counted(args):  # the supervisor serves what each worker writes
            from .observability import metrics, scrape

            for observer in observers:
                if isinstance(observer, metrics.Metrics):
                    await stack.enter_async_context(scrape.writing(observer))
        if node is not None:
            node.watchers.extend(o for o in observers if isinstance(o, cluster.CallWatcher))
            central_system = functools.partial(central_system, cluster=node)
        if args.record:
            from .testing.record import open_recorder

            observers.append(await stack.enter_async_context(open_recorder(args.record)))
        await central_system(observers=observers, alongside=_http(args, observers, node))


def _http(
    args: argparse.Namespace, observers: list[Observer], node: object
) -> Callable[[Server], Awaitable[None]] | None:
    """The operator's HTTP side as ``main`` runs it beside the server, if asked for; its feed
    joins ``observers``. A worker serves it to the supervisor only (:func:`_workers_http`)."""
    if not args.http:
        return None
    from .observability.feed import Feed
    from .observability.http import serve_operator_api
    from .observability.operator import OperatorApi

    feed = Feed()
    observers.append(feed)

    async def run(server: Server) -> None:
        api = OperatorApi(
            server.charge_points,
            feed,
            cluster=node,
            default_version=args.default_version or args.versions[0],
            auth=None if args.workers else args.http_auth,
        )
        if args.workers:  # a socket only the supervisor's user can reach
            from .observability.fanout import socket_path

            await serve_operator_api(api, socket_path(args.http_sockets, os.getpid()))
            return
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(serve_operator_api, api, args.http))
            logger.info("operator API on http://%s:%d/", *args.http)

    return run


async def _workers_http(
    args: argparse.Namespace,
    figures: Figures | None,
    workers: WorkerSet,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The supervisor's HTTP side: every worker's, through their sockets."""
    from .observability.fanout import WorkersApi
    from .observability.http import serve_operator_api

    registry = None if figures is None else figures.registry
    api = WorkersApi(workers, args.http_sockets, auth=args.http_auth, registry=registry)
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(serve_operator_api, api, args.http))
        logger.info("operator API of %d workers on http://%s:%d/", workers.wanted, *args.http)
        task_status.started()


def _observers(args: argparse.Namespace, node: str) -> list[Observer]:
    """The observers the flags ask for; ``node`` names this process in their figures."""
    observers: list[Observer] = []
    # The HTTP side's /metrics shows them too, when the extra is there.
    if args.metrics or (args.http and importlib.util.find_spec("prometheus_client")):
        from .observability.metrics import Metrics

        observers.append(Metrics(node=node))
    return observers


if __name__ == "__main__":
    run()

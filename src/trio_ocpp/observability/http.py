"""The operator's HTTP side, served by hypercorn's trio worker (``pip install
trio-ocpp[http]``): :func:`serve_operator_api` runs :class:`~.operator.OperatorApi` beside a
server, in the same trio run (or a set of workers' :class:`~.fanout.WorkersApi` in their
supervisor).

Never an unauthenticated operator API on a public address: without ``auth``, only a loopback
address is taken (:func:`check_exposure`, which ``python -m trio_ocpp`` calls before it starts).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .operator import HttpSide

__all__ = ["check_exposure", "serve_operator_api"]


def check_exposure(host: str, auth: tuple[str, str] | None) -> None:
    """ValueError if ``host`` is not loopback and there are no credentials."""
    if auth is not None or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the operator API on {host} (not loopback) needs credentials")


async def serve_operator_api(
    api: HttpSide,
    address: tuple[str, int] | str,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``api`` on ``address``, ``(host, port)`` or a Unix socket's path, until
    cancelled; started: the addresses bound."""
    config = Config()
    if isinstance(address, str):
        config.bind = [f"unix:{address}"]
    else:
        host, port = address
        config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0  # live pages hold event streams open
    app: Any = api
    await serve(app, config, task_status=task_status)

"""The operator's HTTP side of a set of workers (``python -m trio_ocpp --workers N --http
HOST:PORT``), served by the supervisor: one address, one page, for every worker.

Each worker serves its own :class:`~.operator.OperatorApi` on a Unix socket, ``<pid>.sock`` in
a directory only the supervisor's user can enter (no credentials there); the supervisor's
:class:`WorkersApi` answers from them all:

- ``GET /health``: the workers that answer their own, of those wanted, and the live ones' pids
  by index (200 if any answers, 503 if none), their charge points summed, the cluster's state
  if there is one;
- ``GET /metrics``: every worker's figures, summed (``registry``:
  :func:`~.scrape.collecting`);
- ``GET /charge-points``: every worker's connections (each with its worker's index), and the
  cluster's identities;
- ``/charge-points/{id}/...`` (actions, frames, calls): relayed to the worker that holds the
  charge point, the live frames streamed as they come; to the first worker if none does (it
  calls through the cluster, or answers 404).

So neither the charge points nor their frames need a cluster to be seen from one page.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import h11
import orjson
import trio

from .operator import (
    HttpSide,
    Receive,
    Reply,
    Scope,
    Send,
    cancel_on_disconnect,
    read_body,
    respond_json,
)

if TYPE_CHECKING:
    from ..workers import WorkerSet

__all__ = ["WorkersApi", "socket_path"]

#: Seconds a worker has to answer what the supervisor asks it (a call's own timeout is the
#: worker's business: relayed requests wait as long as the worker does).
ASK_TIMEOUT = 5.0
#: Response headers passed on from a worker.
_PASSED = {b"content-type", b"cache-control"}


def socket_path(directory: str, pid: int) -> str:
    """Where the worker ``pid`` serves its operator API."""
    return os.path.join(directory, f"{pid}.sock")


class WorkersApi(HttpSide):
    """See the module docstring. ``workers``: the supervisor's (``run_workers(...,
    alongside=)``), ``directory`` where their sockets are."""

    def __init__(
        self,
        workers: WorkerSet,
        directory: str,
        *,
        auth: tuple[str, str] | None = None,
        registry: Any = None,
    ) -> None:
        super().__init__(auth=auth, registry=registry)
        self._workers, self._directory = workers, directory

    async def _resource(
        self, method: str, parts: list[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        match method, parts:
            case "GET", ["health"]:
                health = await self._health()
                await respond_json(send, health, 200 if health["workers"]["serving"] else 503)
            case "GET", ["charge-points"]:
                await respond_json(send, await self._list())
            case _, ["charge-points", identity, *_]:
                body = await read_body(receive) if method == "POST" else b""
                target = scope.get("raw_path") or quote(scope["path"]).encode()
                if scope.get("query_string"):
                    target += b"?" + scope["query_string"]
                pid = await self._holder(identity)
                await _relay(socket_path(self._directory, pid), method, target, body, receive, send)
            case _:
                raise Reply(404, {"error": "no such resource"})

    async def _ask_all(self, target: str) -> list[tuple[int, int, Any]]:
        """``GET target`` of every live worker, at once: ``(index, status, body)`` of those
        that answered, by index."""
        answers: list[tuple[int, int, Any]] = []

        async def ask(index: int, pid: int) -> None:
            try:
                with trio.fail_after(ASK_TIMEOUT):
                    status, body = await _get(socket_path(self._directory, pid), target)
            except (OSError, trio.TooSlowError, h11.ProtocolError, ValueError):
                return  # starting, stopping or dead: it does not count
            answers.append((index, status, body))

        async with trio.open_nursery() as nursery:
            for index, pid in self._workers.pids.items():
                nursery.start_soon(ask, index, pid)
        return sorted(answers, key=lambda answer: answer[0])

    async def _health(self) -> dict[str, Any]:
        healthy = [body for _, status, body in await self._ask_all("/health") if status == 200]
        serving, wanted = len(healthy), self._workers.wanted
        health: dict[str, Any] = {
            "status": "ok" if serving >= wanted else "degraded" if serving else "down",
            "workers": {
                "wanted": wanted,
                "serving": serving,
                "pids": {str(i): pid for i, pid in self._workers.pids.items()},
            },
            "charge_points": sum(body["charge_points"] for body in healthy),
        }
        if healthy and "cluster" in healthy[0]:
            health["cluster"] = healthy[0]["cluster"]
        return health

    async def _list(self) -> dict[str, Any]:
        listing: dict[str, Any] = {"charge_points": []}
        for index, status, body in await self._ask_all("/charge-points"):
            if status == 200:
                listing["charge_points"] += [cp | {"worker": index} for cp in body["charge_points"]]
                if "cluster" in body:
                    listing["cluster"] = body["cluster"]
        return listing

    async def _holder(self, identity: str) -> int:
        """The pid of the worker that holds ``identity``; else the first that answers."""
        answers = await self._ask_all(f"/charge-points/{quote(identity, safe='')}")
        pids = self._workers.pids
        for index, status, _ in answers:
            if status == 200 and index in pids:
                return pids[index]
        for index, _, _ in answers:
            if index in pids:
                return pids[index]
        raise Reply(503, {"error": "no worker is serving"})


class _Upstream:
    """One HTTP/1.1 request to a worker over its Unix socket, with h11."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.CLIENT)

    async def send(self, method: str, target: bytes, body: bytes) -> None:
        headers = [("host", "worker"), ("content-length", str(len(body)))]
        events: list[h11.Request | h11.Data] = [
            h11.Request(method=method, target=target, headers=headers)
        ]
        events += [h11.Data(data=body)] if body else []
        data = b"".join(self._h11.send(event) or b"" for event in [*events, h11.EndOfMessage()])
        await self._stream.send_all(data)

    async def next_event(self) -> Any:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._h11.receive_data(bytes(await self._stream.receive_some(1 << 16)))


async def _get(path: str, target: str) -> tuple[int, Any]:
    """``GET target`` of the worker at ``path``: its status and JSON body."""
    async with await trio.open_unix_socket(path) as stream:
        upstream = _Upstream(stream)
        await upstream.send("GET", target.encode(), b"")
        status, body = 0, b""
        while not isinstance(event := await upstream.next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
        return status, orjson.loads(body)


async def _relay(
    path: str, method: str, target: bytes, body: bytes, receive: Receive, send: Send
) -> None:
    """The worker's answer to the request, passed on as it comes (a stream of frames too),
    until it ends or the client goes away."""
    try:
        stream = await trio.open_unix_socket(path)
    except OSError:
        raise Reply(503, {"error": "the worker is not serving"}) from None
    started = False
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(cancel_on_disconnect, receive, nursery.cancel_scope)
        upstream = _Upstream(stream)
        try:
            await upstream.send(method, target, body)
            while not isinstance(event := await upstream.next_event(), h11.EndOfMessage):
                if isinstance(event, h11.Response):
                    headers = [(k, v) for k, v in event.headers if k in _PASSED]
                    start = {"status": event.status_code, "headers": headers}
                    await send({"type": "http.response.start", **start})
                    started = True
                elif isinstance(event, h11.Data):
                    chunk = {"body": bytes(event.data), "more_body": True}
                    await send({"type": "http.response.body", **chunk})
        except (OSError, trio.BrokenResourceError, h11.ProtocolError):
            pass  # the worker went away: its answer ends here
        if started:
            await send({"type": "http.response.body", "body": b""})
        nursery.cancel_scope.cancel()
    if not started:
        raise Reply(503, {"error": "the worker went away"})

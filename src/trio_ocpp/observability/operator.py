"""The operator's HTTP API of a central system, as an ASGI application (no framework: a handful
of routes). ``python -m trio_ocpp --http HOST:PORT`` serves it with hypercorn
(:mod:`~trio_ocpp.observability.http`).

- ``GET /health``: 200 while the server listens; in a cluster, the broker's state too.
- ``GET /metrics``: Prometheus text, when prometheus_client is installed.
- ``GET /charge-points``: this server's connections (identity, version, remote, connected
  since, last frame, statistics), and in a cluster, every node's identities.
- ``GET /charge-points/{id}``: one of them; 404 if this server does not hold it.
- ``GET /charge-points/{id}/actions``: the version and a payload skeleton per action.
- ``GET /charge-points/{id}/frames``: its frames live, as server-sent events.
- ``POST /charge-points/{id}/calls/{action}``: a JSON payload in wire form, validated and sent;
  200 with the response, 404 not connected, 422 invalid payload or action, 504 no answer in
  time, 502 a CALLERROR (its code and description); through the cluster when another node
  holds the charge point.
- ``GET /``: the live page (``page.html``).

Every request needs the Basic credentials given (``auth``), when there are any.
:class:`HttpSide` is what this shares with the HTTP side of a set of workers
(:mod:`~trio_ocpp.observability.fanout`).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
import trio

from .._core import errors
from .._core.auth import compare_secret, parse_basic_auth
from .._core.payload import payload_class
from .._core.route_table import checked_request
from .._core.schemas import MessageKind
from .._core.versions import OCPPVersion, normalize_version
from .._runtime.charge_point import ChargePoint
from .feed import Feed
from .skeleton import skeletons

__all__ = ["HttpSide", "OperatorApi", "Reply"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
#: Seconds a call through the API may wait for its answer (``?timeout=`` lowers it).
CALL_TIMEOUT = 30.0
#: Bytes of a request body: a payload, not an upload.
MAX_BODY = 1 << 20
_PAGE = importlib.resources.files(__package__).joinpath("page.html").read_bytes()


class Reply(Exception):
    """Answer the request with ``status`` and ``body`` (JSON) and stop handling it."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


class HttpSide:
    """An ASGI application with the page, ``/metrics`` (of ``registry``, prometheus_client's
    ``REGISTRY`` if None) and the credentials ``auth`` (``(user, password)``); the other
    resources are a subclass's :meth:`_resource`."""

    def __init__(self, *, auth: tuple[str, str] | None = None, registry: Any = None) -> None:
        self._auth = auth
        self._registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            if not self._authorized(scope):
                raise Reply(401, {"error": "credentials required"})
            await self._route(scope, receive, send)
        except Reply as reply:
            headers = (
                [(b"www-authenticate", b'Basic realm="trio-ocpp"')] if reply.status == 401 else []
            )
            await _respond(
                send, reply.status, orjson.dumps(reply.body), b"application/json", headers
            )

    def _authorized(self, scope: Scope) -> bool:
        if self._auth is None:
            return True
        given = dict(scope["headers"]).get(b"authorization")
        credentials = None if given is None else parse_basic_auth(given)
        user, password = self._auth
        return credentials is not None and (
            compare_secret(credentials[0], user) & compare_secret(credentials[1], password)
        )

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, parts = scope["method"], [unquote(p) for p in scope["path"].split("/")[1:]]
        match method, parts:
            case "GET", [""]:
                await _respond(send, 200, _PAGE, b"text/html; charset=utf-8")
            case "GET", ["metrics"]:
                await _metrics(send, self._registry)
            case _:
                await self._resource(method, parts, scope, receive, send)

    async def _resource(
        self, method: str, parts: list[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        raise Reply(404, {"error": "no such resource"})


class OperatorApi(HttpSide):
    """The ASGI application; see the module docstring.

    ``charge_points``: the server's registry (``Server.charge_points``); ``feed``: an observer
    installed on that server; ``cluster``: its node, if any; ``auth``: ``(user, password)``;
    ``registry``: what ``/metrics`` shows (prometheus_client's ``REGISTRY``).
    """

    def __init__(
        self,
        charge_points: Mapping[str, ChargePoint],
        feed: Feed,
        *,
        cluster: Any = None,
        default_version: str = "2.0.1",
        auth: tuple[str, str] | None = None,
        registry: Any = None,
    ) -> None:
        super().__init__(auth=auth, registry=registry)
        self._charge_points = charge_points
        self._feed = feed
        self._cluster = cluster
        self._default_version = default_version

    async def _resource(
        self, method: str, parts: list[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        match method, parts:
            case "GET", ["health"]:
                await self._json(send, await self._health())
            case "GET", ["charge-points"]:
                await self._json(send, await self._list())
            case "GET", ["charge-points", identity]:
                cp = self._charge_points.get(identity)
                if cp is None:
                    raise Reply(404, {"error": f"{identity!r} is not connected here"})
                await self._json(send, self._entry(identity, cp))
            case "GET", ["charge-points", identity, "actions"]:
                version = self._version(identity, query)
                await self._json(send, {"version": version, "actions": skeletons(version)})
            case "GET", ["charge-points", identity, "frames"]:
                await self._frames(identity, receive, send)
            case "POST", ["charge-points", identity, "calls", action]:
                body = await read_body(receive)
                await self._json(send, await self._call(identity, action, body, query))
            case _:
                raise Reply(404, {"error": "no such resource"})

    async def _json(self, send: Send, body: Any) -> None:
        await respond_json(send, body)

    async def _health(self) -> dict[str, Any]:
        health: dict[str, Any] = {"status": "ok", "charge_points": len(self._charge_points)}
        if self._cluster is not None:
            try:
                await self._cluster.charge_points()
                health["cluster"] = "joined"
            except errors.ClusterUnavailableError:
                health["cluster"] = "unavailable"
        return health

    async def _list(self) -> dict[str, Any]:
        local = [self._entry(*item) for item in list(self._charge_points.items())]
        listing: dict[str, Any] = {"charge_points": local}
        if self._cluster is not None:
            try:
                listing["cluster"] = await self._cluster.charge_points()
            except errors.ClusterUnavailableError:
                listing["cluster"] = None
        return listing

    def _entry(self, identity: str, cp: ChargePoint) -> dict[str, Any]:
        seen = self._feed.connections.get(identity)
        entry: dict[str, Any] = {"identity": identity, "version": cp.ocpp_version}
        if seen is not None:
            entry |= {
                "remote": seen.info.remote_address,
                "connected_since": seen.info.opened_at,
                "last_frame_at": seen.last_frame_at,
            }
        entry["statistics"] = _plain(cp.statistics())
        return entry

    def _version(self, identity: str, query: Mapping[str, list[str]]) -> OCPPVersion:
        cp = self._charge_points.get(identity)
        if cp is not None:
            return cp.ocpp_version
        try:  # on another node: the version the request says
            return normalize_version(query.get("version", [self._default_version])[0])
        except ValueError as exc:
            raise Reply(422, {"error": str(exc)}) from None

    async def _call(
        self, identity: str, action: str, body: bytes, query: Mapping[str, list[str]]
    ) -> Any:
        cp = self._charge_points.get(identity)
        if cp is None and self._cluster is None:
            raise Reply(404, {"error": f"{identity!r} is not connected"})
        version = self._version(identity, query)
        try:
            wire = orjson.loads(body or b"{}")
            payload = payload_class(version, action, MessageKind.REQUEST).from_wire(wire)
            checked_request(payload)
        except (LookupError, ValueError, TypeError, errors.OCPPError) as exc:
            raise Reply(422, {"error": str(exc)}) from None
        try:
            timeout = min(float(query.get("timeout", [CALL_TIMEOUT])[0]), CALL_TIMEOUT)
        except ValueError:
            raise Reply(422, {"error": "timeout: not a number"}) from None
        try:
            if cp is not None:
                result = await cp.call(payload, skip_schema_validation=True, timeout=timeout)
            else:
                result = await self._cluster.call(identity, payload, timeout=timeout)
        except errors.CallTimeoutError:
            raise Reply(504, {"error": f"no answer within {timeout:g} s"}) from None
        except errors.ConnectionClosedError as exc:  # NotConnectedError too
            raise Reply(404, {"error": str(exc)}) from None
        except errors.ClusterUnavailableError as exc:
            raise Reply(503, {"error": str(exc)}) from None
        except errors.OCPPError as exc:
            error = {"code": exc.code_for(version), "description": exc.description}
            raise Reply(502, {"error": error}) from None
        return {"result": result.to_wire()}

    async def _frames(self, identity: str, receive: Receive, send: Send) -> None:
        """Server-sent events, one per frame, until the client goes away."""
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with self._feed.watch(identity) as frames:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(cancel_on_disconnect, receive, nursery.cancel_scope)
                await send(
                    {"type": "http.response.body", "body": b": watching\n\n", "more_body": True}
                )
                async for event in frames:
                    data = b"data: " + orjson.dumps(event) + b"\n\n"
                    await send({"type": "http.response.body", "body": data, "more_body": True})


def _plain(value: Any) -> Any:
    """An attrs or dataclass instance as a dict (statistics), anything else as it is."""
    fields = getattr(type(value), "__attrs_attrs__", None) or getattr(
        type(value), "__dataclass_fields__", None
    )
    if fields is None:
        return value
    names = [f.name for f in fields] if isinstance(fields, tuple) else list(fields)
    return {name: getattr(value, name) for name in names}


async def cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if len(body) > MAX_BODY:
            raise Reply(413, {"error": "payload too large"})
        if not message.get("more_body"):
            return body


async def _metrics(send: Send, registry: Any) -> None:
    try:
        from prometheus_client import REGISTRY, generate_latest
        from prometheus_client.exposition import CONTENT_TYPE_LATEST
    except ImportError:
        raise Reply(404, {"error": "metrics need trio-ocpp[metrics]"}) from None
    body = generate_latest(REGISTRY if registry is None else registry)
    await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode())


async def respond_json(send: Send, body: Any, status: int = 200) -> None:
    await _respond(send, status, orjson.dumps(body), b"application/json")


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes, headers: list[Any] | None = None
) -> None:
    headers = [(b"content-type", content_type), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

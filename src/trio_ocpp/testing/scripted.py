"""Scripted peers: the test plays one side of a connection frame by frame.

A :class:`FakeChargePoint` drives a central system (a class run in memory, or a live server at
a ``ws://`` URL); a :class:`FakeCentralSystem` drives a charge point class. Both speak wire
payloads (camelCase dicts, as JSON has them) and wait for what they expect at most
``time_limit`` seconds, then fail with :class:`ExpectationError` showing every frame seen.
Frames the peer sends are kept until a step takes them, so that the script says what it waits
for, not the order of unrelated frames (a heartbeat in between does not break it).
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import trio

from .._client.client import _Target
from .._core import errors
from .._core.frames import Call, CallError, CallResult, Frame, Send, unpack
from .._core.payload import Payload
from .._core.ungroup import ungroup
from .._core.versions import SUBPROTOCOLS, OCPPVersion, normalize_version
from .._runtime.charge_point import ChargePoint
from .._transport.adapters import Connection
from .._transport.connection import MAX_MESSAGE_SIZE, ConnectionClosed
from .frames_log import LEGEND, FrameLog
from .memory import memory_connections
from .pair import Classes, Opened, pick_class

__all__ = [
    "ExpectationError",
    "FakeCentralSystem",
    "FakeChargePoint",
    "ScriptedPeer",
    "fake_central_system",
    "fake_charge_point",
]

#: Seconds a step waits for what it expects by default.
TIME_LIMIT = 5


class ExpectationError(AssertionError):
    """A scripted step did not see what it expected; the message lists the frames seen."""


def contains(payload: Any, fields: Any) -> bool:
    """Does ``payload`` have ``fields`` (nested dicts: the keys given, the rest ignored)?"""
    if isinstance(fields, Mapping):
        return isinstance(payload, Mapping) and all(
            key in payload and contains(payload[key], value) for key, value in fields.items()
        )
    return bool(payload == fields)


class ScriptedPeer:
    """One side of a connection, played by the test (see the module docstring)."""

    #: Who we play, as the frame log names it.
    role = "charge point"

    def __init__(
        self,
        connection: Connection,
        version: OCPPVersion,
        identity: str,
        frames: FrameLog,
        time_limit: float = TIME_LIMIT,
    ) -> None:
        self.connection = connection
        self.version = version
        self.identity = identity
        #: Every frame both ways; ``str(peer.frames)`` shows them.
        self.frames = frames
        self.time_limit = time_limit
        #: The ChargePoint on the other side, when it runs in memory (else None).
        self.peer: ChargePoint | None = None
        #: Why the connection closed, once it did.
        self.closed: ConnectionClosed | None = None
        #: The opening request's headers (names lower-case), where the fake accepted a
        #: charge point's socket connection (:func:`.listening.fake_central_system_server`).
        self.headers: Mapping[str, str] = {}
        self._other = "central system" if self.role == "charge point" else "charge point"
        self._inbox: list[tuple[str | bytes, Frame | None]] = []  # received, not yet taken
        self._arrived = trio.Event()
        self._ids = (str(n) for n in itertools.count(1))

    async def read(self) -> None:
        """Receive frames until the connection closes (a task of the fake's)."""
        while True:
            try:
                text = await self.connection.get_message()
            except ConnectionClosed as exc:
                self.closed = exc
                self._arrived.set()
                return
            self.frames.add(self._other, self.identity, text)
            try:
                frame: Frame | None = unpack(text, self.version)
            except errors.OCPPError:
                frame = None
            self._inbox.append((text, frame))
            self._arrived.set()
            self._arrived = trio.Event()

    async def _take(self, wanted: Callable[[Frame | None], bool], what: str) -> Frame | None:
        with trio.move_on_after(self.time_limit):
            while True:
                for index, (_text, frame) in enumerate(self._inbox):
                    if wanted(frame):
                        del self._inbox[index]
                        return frame
                if self.closed is not None:
                    self.fail(f"{what}, but the connection closed ({self.closed})")
                await self._arrived.wait()
        self.fail(f"{what}: nothing came within {self.time_limit:g} s")

    def fail(self, message: str) -> NoReturn:
        raise ExpectationError(f"{message}\nframes seen ({LEGEND}):\n{self.frames}")

    async def send_raw(
        self, text: str | bytes, *, answer: bool = True
    ) -> CallResult | CallError | None:
        """Send ``text`` as it is (malformed frames too); with ``answer``, return the next
        CALLRESULT or CALLERROR that comes back (whatever its id)."""
        await self._send(text)
        if not answer:
            return None
        frame = await self._take(
            lambda f: isinstance(f, CallResult | CallError), f"expected an answer to {text!r}"
        )
        assert isinstance(frame, CallResult | CallError)
        return frame

    async def _send(self, text: str | bytes) -> None:
        self.frames.add(self.role, self.identity, text)
        await self.connection.send_message(text)  # type: ignore[arg-type]

    async def _call(self, action: str | Payload, payload: Mapping[str, Any] | None) -> Frame:
        if isinstance(action, Payload):
            payload = action.to_wire()
            action = action.__ocpp_action__
        call = Call(next(self._ids), action, dict(payload or {}))
        await self._send(call.to_json())
        frame = await self._take(
            lambda f: isinstance(f, CallResult | CallError) and f.unique_id == call.unique_id,
            f"expected the answer to CALL {action} (id {call.unique_id})",
        )
        assert frame is not None
        return frame

    async def call(
        self, action: str | Payload, payload: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a CALL (an action and its wire payload, or a payload object) and return the
        CALLRESULT's payload; a CALLERROR fails the test."""
        frame = await self._call(action, payload)
        if not isinstance(frame, CallResult):
            self.fail(f"CALL {action} was answered with an error: {frame.to_json()}")
        return frame.payload

    async def call_error(
        self,
        action: str | Payload,
        payload: Mapping[str, Any] | None = None,
        code: str | None = None,
    ) -> CallError:
        """Send a CALL that should fail: return its CALLERROR (with ``code``, if given)."""
        frame = await self._call(action, payload)
        if not isinstance(frame, CallError) or (code is not None and frame.error_code != code):
            self.fail(f"expected CALL {action} to get CALLERROR {code or ''}, got {frame}")
        return frame

    async def expect_call(
        self,
        action: str,
        fields: Mapping[str, Any] | None = None,
        *,
        reply: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """Wait for the peer to CALL ``action`` (its payload having ``fields``, if given) and
        answer it: with ``reply`` (a wire payload, default ``{}``) or a CALLERROR ``error``.
        Return the CALL's payload."""
        shown = f" with {fields}" if fields else ""
        frame = await self._take(
            lambda f: (
                isinstance(f, Call | Send)
                and f.action == action
                and (fields is None or contains(f.payload, fields))
            ),
            f"expected the {self._other} to CALL {action}{shown}",
        )
        assert isinstance(frame, Call | Send)
        if isinstance(frame, Call):
            answer = (
                CallError(frame.unique_id, error, "scripted error")
                if error is not None
                else frame.create_call_result(dict(reply or {}))
            )
            await self._send(answer.to_json())
        return frame.payload

    async def expect_close(self) -> ConnectionClosed:
        """Wait for the connection to close: its code and reason."""
        with trio.move_on_after(self.time_limit):
            while self.closed is None:
                await self._arrived.wait()
            return self.closed
        self.fail(f"expected the connection to close within {self.time_limit:g} s")

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self.connection.aclose(code, reason)


class FakeChargePoint(ScriptedPeer):
    """A scripted charge point, to test a central system against exact frames."""

    role = "charge point"


class FakeCentralSystem(ScriptedPeer):
    """A scripted central system, to test a charge point class against exact frames."""

    role = "central system"


@asynccontextmanager
async def _running(fake: ScriptedPeer, peer: ChargePoint | None) -> AsyncIterator[None]:
    async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:
        nursery.start_soon(fake.read)
        if peer is not None:
            opened = Opened()
            peer.add_observer(opened)
            nursery.start_soon(peer.start)
            await opened.event.wait()
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                await fake.aclose()
            if peer is None:
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def fake_charge_point(
    central_system: Classes[ChargePoint] | str,
    identity: str = "CP_1",
    version: str | None = None,
    *,
    time_limit: float = TIME_LIMIT,
    basic_auth: str | bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    **options: Any,
) -> AsyncIterator[FakeChargePoint]:
    """A :class:`FakeChargePoint` connected for the block to ``central_system``: a class (or
    several, ``version`` picking one), run in memory with ``options``; or a live server's
    ``ws://``/``wss://`` endpoint URL, where ``identity`` is appended and ``version`` (needed)
    is the subprotocol offered, with ``basic_auth`` and ``ssl_context`` as ``connect`` takes
    them. A refused handshake raises ``connect``'s errors (``ConnectionRejected``...)."""
    log = FrameLog()
    if isinstance(central_system, str):
        if version is None:
            raise ValueError("a URL needs the version to offer: version='2.0.1'")
        if options:
            raise TypeError(f"{', '.join(sorted(options))}: for a class run in memory, not a URL")
        wanted = normalize_version(version)
        target = _Target.make(
            central_system, wanted, identity, None, ssl_context, (), basic_auth, MAX_MESSAGE_SIZE
        )
        async with target.open(time_limit) as ws:
            fake = FakeChargePoint(ws, wanted, identity, log, time_limit)
            async with _running(fake, None):
                yield fake
        return
    cls = pick_class(central_system, version)
    server_end, client_end = memory_connections(SUBPROTOCOLS[cls._ocpp_version])
    fake = FakeChargePoint(client_end, cls._ocpp_version, identity, log, time_limit)
    fake.peer = cls(identity, server_end, **options)
    async with _running(fake, fake.peer):
        yield fake


@asynccontextmanager
async def fake_central_system(
    station_class: type[ChargePoint],
    identity: str = "CP_1",
    *,
    time_limit: float = TIME_LIMIT,
    **options: Any,
) -> AsyncIterator[FakeCentralSystem]:
    """A :class:`FakeCentralSystem` with ``station_class`` (made with ``options``) running on
    the other end of an in-memory connection, as ``fake.peer``: call it from a task of the
    test's while the script answers (``nursery.start_soon(fake.peer.call, ...)``)."""
    version = station_class._ocpp_version
    server_end, client_end = memory_connections(SUBPROTOCOLS[version])
    fake = FakeCentralSystem(server_end, version, identity, FrameLog(), time_limit)
    fake.peer = station_class(identity, client_end, **options)
    async with _running(fake, fake.peer):
        yield fake

"""A WebSocket connection on websockets' sans-I/O protocol, read by the task that wants messages.

There is no reader task and no queue. ``get_message()`` reads the stream itself when it has
nothing left to return, feeds the bytes to the protocol and takes the messages that come out; the
protocol's own answers (pongs, the echo of a Close frame, the Close frame that fails the
connection) go out right there. A ChargePoint's reader is the only caller in practice, so a
message costs one ``receive_some``, the parse, and one ``send_all`` for the answer. Should two
tasks want to read at once (``aclose()`` waiting for the close handshake while the reader
waits for a message), one reads and the other waits for what it got.

Writes go out in the order the protocol produced them: whoever writes takes everything queued,
including frames other tasks added meanwhile, and those tasks wait until it is on the wire, so
a peer that stops reading holds every sender (back-pressure, watched by the ChargePoint's
``send_timeout``). The protocol answers pings while the reader reads; a pong that cannot go out
within ``send_timeout`` ends the connection, so that a peer flooding pings without reading is cut
off as fast as one that ignores our frames.

RFC 6455 comes from the protocol: a frame that breaks it gets Close 1002, a message over
``max_message_size`` 1009 (counted across fragments), and text that is not UTF-8 gets 1007 here.
One thing is ours: a Close frame between the fragments of a message is answered like any Close
(RFC 6455 5.4 lets control frames come there), where the protocol would fail the connection.

The frames an OCPP peer sends, whole small text frames, are read straight from the bytes
(:func:`~trio_ocpp._transport.wire.take_texts`) when the protocol's parser stands between two
frames; from the first other frame of a read on, the protocol parses them, as it parses a frame
that a read cuts off. The connection follows where the frames it gives the protocol end, so it
knows when the parser stands between frames again, and where a Close frame begins.

An unfinished message holds its fragments, joined in one buffer that an empty continuation does
not grow, and the frame being received, which the protocol's reader keeps until its last byte:
together at most ``max_message_size`` and a frame header, and the buffers' growth margin (an
eighth). A frame's payload is taken from the Frame the protocol's parser keeps until the next
one, so that it is not held twice. A server's connections charge their
:class:`~trio_ocpp._transport.receive_budget.ReceiveBudget` for it after each read.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections import deque
from typing import TYPE_CHECKING, Any

import trio
from websockets.frames import Frame, Opcode
from websockets.protocol import CLOSED, OPEN, SERVER, Protocol

from .._core import close_codes
from .wire import feed, take_texts

if TYPE_CHECKING:
    from .receive_budget import ReceiveBudget

__all__ = ["ConnectionClosed", "WebSocketConnection"]

logger = logging.getLogger("trio_ocpp.websocket")

#: Bytes asked of the stream per read: several small frames arrive together under load, and
#: the messages of one read are handled without a checkpoint in between (answers sent at once
#: do not yield), so a read is kept to what takes a millisecond or two.
RECEIVE_BYTES = 16384
#: Sockets are read and written with os.read() and os.write() where those work on them (POSIX);
#: elsewhere (Windows) through their stream.
RAW_FD = os.name == "posix"
#: Seconds the close handshake may take before the TCP connection is dropped without it.
CLOSE_TIMEOUT = 2
#: Bytes a message may have by default (1 MiB); a larger one closes its connection with 1009.
MAX_MESSAGE_SIZE = 2**20

_TEXT, _BINARY, _CONT, _PONG = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PONG
_INVALID_DATA = close_codes.INVALID_DATA
_POLICY_VIOLATION = close_codes.POLICY_VIOLATION
_TOO_BIG = close_codes.TOO_BIG
_ABNORMAL = close_codes.ABNORMAL
#: What reading or writing a closed or reset stream raises (OSError: from its socket).
STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class ConnectionClosed(Exception):
    """The WebSocket connection is closed: raised by reads and writes once it is.

    ``code`` and ``reason``: the Close frame received, else the one sent, else 1006 (the TCP
    connection ended without a closing handshake).
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket connection closed: {self.code} {self.reason}".rstrip()


class WebSocketConnection:
    """One open WebSocket connection over a trio stream, driven by a websockets protocol.

    Made by the server (after the opening handshake) and by :func:`trio_ocpp.connect`; a
    ChargePoint runs on it. ``pending`` are frames the protocol parsed with the handshake (a
    client may send its first message in the same segment as its request). ``budget``: what
    the server's connections may hold of unfinished messages (see ``_receive_budget``).
    """

    __slots__ = (
        "__weakref__",
        "_budget",
        "_closed",
        "_drained",
        "_fast",
        "_fragments",
        "_head",
        "_held",
        "_held_since",
        "_left",
        "_messages",
        "_opcode",
        "_partial",
        "_pings",
        "_protocol",
        "_read_lot",
        "_reading",
        "_server",
        "_socket",
        "_stream",
        "_stream_closed",
        "_write_lot",
        "_writing",
        "path",
        "remote",
        "send_timeout",
        "subprotocol",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Protocol,
        *,
        path: str = "",
        subprotocol: str | None = None,
        remote: str = "",
        pending: list[Any] | None = None,
        budget: ReceiveBudget | None = None,
        between_frames: bool = False,
    ) -> None:
        self._stream = stream
        self._stream_closed = False
        # Plain TCP is read and written on its descriptor: what SocketStream does, without its
        # layers per call, and a cancelled write is known to be whole or cut.
        self._socket = stream.socket if RAW_FD and type(stream) is trio.SocketStream else None
        self._drained = True  # the last read took all there was: wait before the next
        self._protocol = protocol
        self._partial = protocol.reader.buffer  # the frame being received; changed in place
        self._server = protocol.side is SERVER
        # Bytes of the frame the parser is in that are still to come; -1: unknown (the
        # handshake may have given it the start of one), until a read shows a frame's end.
        # ``between_frames``: the handshake gave it no byte, so the first read is fast too.
        self._left = 0 if between_frames else -1
        self._head = b""  # the start of a frame whose length is still to come
        # The largest frame read without the protocol; -1: none (its debug log sees them all).
        size = protocol.max_message_size
        fragment = protocol.max_fragment_size
        if fragment is not None:
            size = fragment if size is None else min(size, fragment)
        if protocol.extensions or protocol.debug:
            size = -1
        self._fast = 2**63 if size is None else size
        #: The request target of the opening handshake (on the server: the peer's).
        self.path = path
        self.subprotocol = subprotocol
        self.remote = remote
        #: Seconds a pong or a Close frame (which the reader sends) may take to go out.
        self.send_timeout: float = 10
        self._messages: deque[str | bytes] = deque()
        # An unfinished message: the first fragment's payload, then a buffer of them all.
        self._fragments: bytes | bytearray | None = None
        self._opcode = _TEXT
        self._budget = budget
        self._held = 0  # bytes of an unfinished message, as last charged
        self._held_since = 0.0  # when the message being held began
        self._closed: ConnectionClosed | None = None
        self._pings: dict[bytes, trio.Event] = {}
        # One reader and one writer at a time; the lots exist only once someone waits.
        self._reading = False
        self._writing = False
        self._read_lot: trio.lowlevel.ParkingLot | None = None
        self._write_lot: trio.lowlevel.ParkingLot | None = None
        if pending:
            self._take(pending, 0)

    @property
    def is_client(self) -> bool:
        """We opened it (the charge point side)."""
        return not self._server

    @property
    def closed(self) -> ConnectionClosed | None:
        """Why the connection is closed; None while it is open."""
        return self._closed

    @property
    def is_open(self) -> bool:
        return self._protocol.state is OPEN and self._closed is None

    # -- receiving -----------------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next message: text as str, binary as bytes; ConnectionClosed once closed."""
        messages = self._messages
        while not messages:
            await self._receive()
        return messages.popleft()

    async def _receive(self) -> None:
        """Read once and handle what came in; raise ConnectionClosed when it is over."""
        if self._closed is not None:
            raise self._closed
        if self._reading:
            # Another task reads: what it gets is ours too (a message, or the close).
            if self._read_lot is None:
                self._read_lot = trio.lowlevel.ParkingLot()
            await self._read_lot.park()
            return
        self._reading = True
        data: bytes | bytearray = b""
        try:
            if self._protocol.writes:
                # The handshake's response, and the answers to frames sent with the request,
                # sent with the first read: they may have ended the connection.
                await self._flush()
            sock = self._socket
            if self._closed is not None:
                pass
            elif sock is not None:
                # trio's receive_some() tries the read first, and in a request-response
                # exchange that try fails: a system call and an exception per message, an
                # eighth of a server's CPU under load. So: wait first when the last read took
                # all there was. Here, not in a function: a coroutine less per message, and an
                # object less that a connection holds while it waits.
                if self._drained:
                    await trio.lowlevel.wait_readable(sock)
                else:
                    await trio.lowlevel.checkpoint()
                while (read := read_now(sock)) is None:  # woken for nothing
                    await trio.lowlevel.wait_readable(sock)
                data = read
                self._drained = len(data) < RECEIVE_BYTES
            else:
                data = await self._stream.receive_some(RECEIVE_BYTES)
        except STREAM_ERRORS:
            data = b""  # reset, or closed by us: the end of the stream either way
        finally:
            self._reading = False
            if self._read_lot:
                self._read_lot.unpark_all()
        self._received(data)
        protocol = self._protocol
        if protocol.writes and not await self._written_at_once():
            # Pongs, the echo of a Close frame, or the Close that fails the connection.
            with trio.move_on_after(self.send_timeout) as timer:
                await self._flush()
            if timer.cancelled_caught:
                logger.warning(
                    "%s: a control frame was not sent within %g s", self.remote, self.send_timeout
                )
                await self._finish()
        if protocol.state is CLOSED or protocol.eof_sent or not data:
            await self._finish()
            if not self._messages:  # those that came before the Close are read first
                raise self._closed  # type: ignore[misc]  # _finish() set it

    def _received(self, data: bytes | bytearray) -> None:
        """Handle the bytes of one read (none: the end of the stream)."""
        protocol = self._protocol
        if not data:
            protocol.receive_eof()
            return
        messages = self._messages
        count = len(messages)
        pos = 0
        if (
            not self._left
            and not self._head
            and protocol.current_size is None
            and protocol.state is OPEN
        ):
            # Between frames, no message begun: nothing these frames do involves the protocol.
            pos = take_texts(data, self._server, self._fast, messages.append)
            if pos == len(data):
                return  # nothing held before (no message begun), nothing now
        self._left, self._head = feed(protocol, data, pos, self._left, self._head)
        self._take(protocol.events_received(), count)

    def _take(self, frames: list[Any], count: int) -> None:  # Frames, after the handshake
        """Handle the frames of a read, then charge what the unfinished message holds;
        ``count``: the messages there were before the read."""
        messages = self._messages
        for frame in frames:
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY or opcode is _CONT:
                if not self._data(frame):
                    break  # the connection failed: nothing after it counts
            elif opcode is _PONG:
                self._pong(bytes(frame.data))
            # A ping's pong and a Close frame's echo are queued by the protocol already.
        held = len(self._partial)
        if self._fragments is not None:
            held += len(self._fragments)
        if held or self._held:
            self._hold(held, len(messages) != count)

    def _hold(self, held: int, new_message: bool) -> None:
        """Charge ``held`` bytes; ``new_message``: a message completed since the last charge,
        so that what is held now began with this read."""
        budget = self._budget
        if budget is None:
            self._held = held
            return
        now = trio.current_time()
        if new_message or not self._held:
            self._held_since = now
        elif (
            held
            and budget.message_timeout is not None
            and now - self._held_since > budget.message_timeout
        ):
            self._fail(
                _POLICY_VIOLATION, f"message not finished within {budget.message_timeout:g} s"
            )
            return
        self._held = held
        budget.charge(self, held)  # which may evict this connection: then _held is 0 again

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (the Close frame and the end of the stream are queued) and
        drop the unfinished message."""
        protocol = self._protocol
        if protocol.state is not CLOSED:
            protocol.fail(code, reason)  # its reader drops the frame being received
        self._fragments = None
        if self._held:
            self._hold(0, False)

    def _evict(self) -> None:
        """The server's budget is spent and this connection holds the most: drop it, 1009."""
        self._fail(_TOO_BIG, "the server's budget for unfinished messages is spent")

    async def _close_failed(self) -> None:
        """Send what failing the connection queued (a task of the budget's), then close."""
        with trio.move_on_after(self.send_timeout), contextlib.suppress(ConnectionClosed):
            await self._flush()
        await self._finish()

    def _data(self, frame: Frame) -> bool:
        """Add a data frame to its message; False if the message is invalid (1007)."""
        data: Any = frame.data  # bytes: compressed frames alone are memoryviews
        frame.data = b""  # the parser keeps its last frame: the payload is held here alone
        fragments = self._fragments
        if fragments is None:
            opcode = frame.opcode
            if not frame.fin:  # the first fragment, as it is
                self._fragments, self._opcode = data, opcode
                return True
        else:
            if data:  # the protocol bounds the total by max_message_size
                if type(fragments) is not bytearray:
                    fragments = self._fragments = bytearray(fragments)
                fragments += data
            if not frame.fin:
                return True
            self._fragments = None
            opcode, data = self._opcode, fragments
        if opcode is _TEXT:
            try:
                self._messages.append(data.decode())
            except UnicodeDecodeError as exc:
                self._fail(_INVALID_DATA, f"invalid UTF-8 at position {exc.start}")
                return False
        else:
            self._messages.append(bytes(data))
        return True

    # -- sending -------------------------------------------------------------------------------

    async def send_message(self, message: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message; returns once it is on the wire. Not a
        checkpoint when the socket takes it at once (see ``_write``)."""
        protocol = self._protocol
        if protocol.state is not OPEN or self._closed is not None:
            raise self._closed or ConnectionClosed(*self._close_info())
        if isinstance(message, str):
            if self._server:
                data = server_text_frame(message.encode())
                sock = self._socket
                if sock is not None and not self._writing and not protocol.writes:
                    # Nobody else writes: the frame goes to the socket here, without the
                    # protocol's queue and two coroutines, and the socket takes it at once.
                    try:
                        sent = os.write(sock.fileno(), data)  # fileno -1 once closed: EBADF
                    except BlockingIOError:
                        sent = 0
                    except OSError:
                        await self._finish()
                        raise self._closed from None  # type: ignore[misc]  # _finish() set it
                    if sent < len(data):
                        await self._send_rest(data[sent:], sent > 0)
                    return
                protocol.writes.append(data)
            else:
                protocol.send_text(message.encode())  # masked
        else:
            protocol.send_binary(message)
        await self._flush()

    async def _send_rest(self, rest: bytes, begun: bool) -> None:
        """What the socket did not take of a frame (``begun``: it took a part): nothing else
        may go out before it, and a connection whose frame was cut short is over."""
        self._protocol.writes.append(rest)
        try:
            await self._flush()
        except BaseException:
            if begun and self._closed is None:
                self._closed = ConnectionClosed(_ABNORMAL, "a write was interrupted")
            raise

    async def _flush(self) -> None:
        """Write what the protocol queued (after the opening handshake, the response), unless a
        writer is at it: then wait for it."""
        protocol = self._protocol
        while self._writing:
            if self._write_lot is None:
                self._write_lot = trio.lowlevel.ParkingLot()
            await self._write_lot.park()
            if not protocol.writes:
                return  # the writer took ours too
        self._writing = True
        try:
            while writes := protocol.data_to_send():
                await self._write(writes)
        finally:
            self._writing = False
            if self._write_lot:
                self._write_lot.unpark_all()

    async def _written_at_once(self) -> bool:
        """Write what the protocol queued if the socket takes it whole now (plain TCP, no
        other writer): True if it did. Else it is left queued for ``_flush``, within a
        timeout: a cancel scope for a write that cannot wait would cost a closing connection
        a fortieth of its life's CPU."""
        sock = self._socket
        if sock is None or self._writing or self._closed is not None:
            return False
        protocol = self._protocol
        writes = protocol.data_to_send()
        data = writes[0] if len(writes) == 1 else b"".join(writes)
        try:
            sent = os.write(sock.fileno(), data) if data else 0  # fileno -1 once closed
        except OSError:  # BlockingIOError, or the end of the stream: _flush sees to it
            sent = 0
        if sent < len(data):
            protocol.writes[:0] = [data[sent:], *([b""] if not all(writes) else [])]
            return False
        if not all(writes):  # the protocol's end of stream: the TCP connection is to close
            await self._finish()
        return True

    async def _write(self, writes: list[bytes]) -> None:
        if self._closed is not None:
            raise self._closed
        # An empty chunk is the protocol's end of stream: the TCP connection is to be closed.
        data = writes[0] if len(writes) == 1 else b"".join(writes)
        if data:
            sock = self._socket
            sent = 0
            try:
                if sock is None:
                    await self._stream.send_all(data)
                else:  # what sock.send() does, two coroutines and a context manager fewer
                    while True:
                        fd = sock.fileno()
                        if fd < 0:
                            raise trio.ClosedResourceError("the socket was closed")
                        try:
                            sent += os.write(fd, memoryview(data)[sent:] if sent else data)
                        except BlockingIOError:
                            await trio.lowlevel.wait_writable(sock)
                            continue
                        if sent == len(data):
                            break
                    # No checkpoint after a write the socket took at once: whoever sent goes
                    # on to wait (the reader for the next message, call() for its answer), and
                    # a yield through the whole await chain costs a tenth of a server's CPU.
            except STREAM_ERRORS:
                await self._finish()
                raise self._closed from None  # type: ignore[misc]
            except BaseException:
                # Cancelled. Nothing may follow a frame cut short (TLS: any cut write), but a
                # write that never started leaves the connection as it was.
                if sent or sock is None:
                    self._closed = ConnectionClosed(_ABNORMAL, "a write was interrupted")
                raise
        if not all(writes):
            await self._finish()

    # -- ping, close ---------------------------------------------------------------------------

    _ping_ids = itertools.count()

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and return when its pong (or a later ping's) came back; the reader must be
        reading meanwhile. ConnectionClosed if the connection closes first."""
        if payload is None:
            payload = next(self._ping_ids).to_bytes(8, "big")
        if self._closed is not None or self._protocol.state is not OPEN:
            raise self._closed or ConnectionClosed(*self._close_info())
        pong = self._pings[payload] = trio.Event()
        self._protocol.send_ping(payload)
        await self._flush()
        await pong.wait()
        if self._closed is not None:
            raise self._closed

    def _pong(self, payload: bytes) -> None:
        if payload in self._pings:
            # A pong answers its ping and every ping before it (RFC 6455 5.5.3).
            for sent in list(self._pings):
                self._pings.pop(sent).set()
                if sent == payload:
                    break

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close: send a Close frame, wait (at most ``CLOSE_TIMEOUT``) for the peer's, then
        close the stream (at once if the connection is closed already)."""
        if self._stream_closed:
            # Over, its stream closed: what follows would find nothing to send or read, at
            # the cost of a cancel scope and an exception, on every caller's way out.
            return
        protocol = self._protocol
        try:
            with trio.move_on_after(CLOSE_TIMEOUT):
                if protocol.state is OPEN and self._closed is None:
                    protocol.send_close(code, _close_reason(reason))
                    await self._flush()
                while True:  # until the peer's Close frame; messages meanwhile are kept
                    await self._receive()
        except ConnectionClosed:
            pass
        finally:
            await self._finish()

    async def _finish(self) -> None:
        """The connection is over: close the stream, release pings and waiting tasks."""
        if self._closed is None:
            self._closed = ConnectionClosed(*self._close_info())
        self._fragments = None
        if self._held:
            self._hold(0, False)
        for pong in self._pings.values():
            pong.set()
        self._pings.clear()
        if not self._stream_closed:
            # Once: _finish() runs two or three times as a connection ends (the reader, the
            # close handshake, the writer), and a forced close is a cancel scope and a
            # checkpoint, a tenth of what a storm's connection costs, even on a closed stream.
            self._stream_closed = True
            if self._socket is not None:
                # All that SocketStream.aclose() does but its checkpoint, which
                # aclose_forcefully() would cancel in a scope of its own: an eighth of what
                # a connection costs the server, to close a socket.
                self._socket.close()
            else:
                await trio.aclose_forcefully(self._stream)

    def _close_info(self) -> tuple[int, str]:
        protocol = self._protocol
        close = protocol.close_rcvd or protocol.close_sent
        return (close.code, close.reason) if close is not None else (_ABNORMAL, "")


def read_now(sock: trio.socket.SocketType) -> bytes | None:
    """What ``sock`` holds (empty at its end), or None when nothing is there yet."""
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("the socket was closed")
    try:
        return os.read(fd, RECEIVE_BYTES)
    except BlockingIOError:
        return None


#: The first two bytes of a whole unmasked text frame with a payload of 0-125 bytes.
_TEXT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def server_text_frame(payload: bytes) -> bytes:
    """A whole text frame as a server sends it (unmasked, RFC 6455 5.2): what the protocol's
    ``send_text`` writes, in a quarter of its time (it builds a Frame and a buffer per call)."""
    n = len(payload)
    if n < 126:
        return _TEXT_HEADERS[n] + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def _close_reason(reason: str | None) -> str:
    """A Close frame's reason: at most 123 bytes of UTF-8 (RFC 6455 5.5: 125 with the code)."""
    if not reason:
        return ""
    data = reason.encode("utf-8", "replace")[:123]
    return data.decode("utf-8", "ignore")

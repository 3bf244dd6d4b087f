"""Accepting connections, one loop per listener, through a shortage of file descriptors.

trio's ``serve_listeners`` logs a traceback for every accept that fails for want of descriptors
and leaves the connection in the backlog. Here, when accept fails for want of them, the server
is first asked to make room (it closes a connection that has not proven itself to be a charge
point: ``_admission.py``), so that sockets an attacker holds cannot keep charge points out. If
it cannot, one descriptor kept in reserve is let go for the time it takes to accept the next
connection and close it at once (the client is refused rather than left waiting). The failures
are logged through the server's ``RepeatLimiter``: a burst per period, then counted.

A storm of charge points fills the backlog faster than one accept per pass of trio's scheduler
takes it (each accept ends with a checkpoint, and a pass runs every ready connection first):
after each accept, what else is waiting is taken at once, up to ``BURST`` and only while the
server has room for it without closing another connection. At a limit, connections are taken
one per pass as before, each making room for itself if it can: a burst never evicts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Awaitable, Callable
from typing import IO, NoReturn

import trio

from .._core.logsafe import RepeatLimiter

__all__ = ["accept_forever"]

#: What accept() raises when the process or the system is out of descriptors or memory.
_SHORTAGE = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
#: Connections accepted without a checkpoint after one accept: a storm's backlog drains at
#: this many per pass of the scheduler, and the connections served meanwhile wait no longer.
BURST = 16


async def accept_forever(
    listener: trio.SocketListener,
    handle: Callable[[trio.SocketStream], Awaitable[None]],
    nursery: trio.Nursery,
    make_room: Callable[[], Awaitable[bool]],
    warnings: RepeatLimiter,
    room: Callable[[], int],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Accept connections on ``listener`` and start ``handle(stream)`` for each in ``nursery``;
    ``make_room()`` frees a descriptor when there are none (False if it cannot); ``room()``:
    how many more connections fit without closing one. Started once the reserve descriptor is
    held. A shortage is told to ``warnings``."""
    reserve: IO[bytes] | None = open(os.devnull, "rb")  # noqa: SIM115  # held for good
    # The listening socket again, as a stdlib socket (its own descriptor, on POSIX): trio's
    # accept() always checkpoints; this one's takes what is there or raises.
    waiting = socket.socket(fileno=os.dup(listener.socket.fileno())) if os.name == "posix" else None
    task_status.started()
    try:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _SHORTAGE:
                    raise  # the listener itself is broken: the server ends
                if await make_room():
                    continue
                warnings.warning(
                    trio.current_time(),
                    "out of file descriptors or memory (%s): connections refused",
                    os.strerror(exc.errno or 0),
                )
                if reserve is not None:
                    reserve.close()  # room for one: take the next connection and close it
                    reserve = None
                    await _refuse_one(listener)
                else:
                    await trio.sleep(0.1)  # not even that: wait for descriptors to come back
                if reserve is None:
                    with contextlib.suppress(OSError):  # still short: the next failure retries
                        reserve = open(os.devnull, "rb")  # noqa: SIM115
                continue
            nursery.start_soon(handle, stream)
            if waiting is not None:
                _accept_waiting(waiting, min(BURST, room() - 1), handle, nursery)
    finally:
        if waiting is not None:
            waiting.close()
        if reserve is not None:
            reserve.close()


def _accept_waiting(
    waiting: socket.socket,
    count: int,
    handle: Callable[[trio.SocketStream], Awaitable[None]],
    nursery: trio.Nursery,
) -> None:
    """Start ``handle`` for the connections in the backlog now, ``count`` at most."""
    for _ in range(count):
        try:
            accepted, _address = waiting.accept()
        except OSError:  # none waiting, or a failure the next accept() deals with
            return
        nursery.start_soon(handle, trio.SocketStream(trio.socket.from_stdlib_socket(accepted)))


async def _refuse_one(listener: trio.SocketListener) -> None:
    with trio.move_on_after(0.1):
        try:
            stream = await listener.accept()
        except OSError:
            return
        await trio.aclose_forcefully(stream)

"""A lone exception out of a nursery, as itself rather than in an exception group.

trio's nurseries wrap whatever their tasks raise in a (Base)ExceptionGroup, even one exception:
an application's ``except KeyError`` around ``async with trio_ocpp.connect(...)`` would never
match its own KeyError. Every context manager and ``run()`` of the library leaves its nursery
through :class:`ungroup`, which lets a group holding one exception (at any depth of nesting) out
as that exception, its traceback from where it was raised kept, and nothing chained to it that it
did not have. Two or more stay a group: both failures are news.

Cancellation is not disturbed. The caller names the event loop's cancellation (``trio.Cancelled``:
the core does not import trio). A group of one Cancelled becomes that Cancelled, which the cancel
scope it belongs to catches as it would the group; several stay a group, which trio's cancel
scopes split as always. An exception raised while its nursery was being cancelled travels with
the Cancelled of the other tasks: it comes out alone, as it would have replaced a Cancelled in a
``finally`` block; the cancel scopes stay cancelled, so nothing is lost. A KeyboardInterrupt or
SystemExit alone comes out as itself too.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

__all__ = ["lone_exception", "ungroup"]


def lone_exception(
    error: BaseException, cancelled: type[BaseException] | None = None
) -> BaseException | None:
    """The one exception group ``error`` holds, leaving aside those of type ``cancelled`` when
    there is another; a lone ``cancelled`` too. None when ``error`` is not a group, or holds more
    than one."""
    if not isinstance(error, BaseExceptionGroup):
        return None
    leaves = list(_leaves(error))
    others = [e for e in leaves if cancelled is None or not isinstance(e, cancelled)]
    if len(others) == 1:
        return others[0]
    return leaves[0] if len(leaves) == 1 else None


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


class ungroup:  # lower case: it reads as a call beside trio.open_nursery()
    """``async with ungroup(trio.Cancelled), trio.open_nursery() as nursery:``: a lone exception
    out of the nursery is raised as itself (module docstring). Asynchronous only to share the
    nursery's ``async with`` line; it never awaits."""

    __slots__ = ("_cancelled",)

    def __init__(self, cancelled: type[BaseException]) -> None:
        self._cancelled = cancelled

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lone = None if error is None else lone_exception(error, self._cancelled)
        if lone is None:
            return  # nothing raised, or something to re-raise as it is
        # Raised here, it would get the group as its __context__: a traceback showing the
        # exception twice, once "during handling" of itself. Its own context is put back.
        context = lone.__context__
        try:
            raise lone
        finally:
            lone.__context__ = context
            del lone, context  # no reference cycle through this frame

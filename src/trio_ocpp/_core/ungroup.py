"""A lone exception out of a nursery, as itself rather than in an exception group.

trio's nurseries wrap whatever their tasks raise in a (Base)ExceptionGroup, even one exception:
an application's ``except KeyError`` around ``async with trio_ocpp.connect(...)`` would never
match its own KeyError. Every context manager and ``run()`` of the library leaves its nursery
through :func:`ungroup`, which lets a group of exactly one exception (at any depth of nesting)
out as that exception, its traceback from where it was raised kept, and nothing chained to it
that it did not have. Two or more exceptions stay a group: both failures are news.

Cancellation is not disturbed. A group of one ``trio.Cancelled`` becomes that Cancelled, which
the cancel scope it belongs to catches as it would the group; several Cancelled (or a Cancelled
beside another exception) stay a group, which trio's cancel scopes split as always. Nothing is
caught or dropped, so this needs no trio: a KeyboardInterrupt or SystemExit alone comes out as
itself too.
"""

from __future__ import annotations

from types import TracebackType

__all__ = ["lone_exception", "ungroup"]


def lone_exception(error: BaseException) -> BaseException | None:
    """The one exception ``error`` holds if it is a group (of groups) with exactly one; else
    None."""
    lone = None
    while isinstance(error, BaseExceptionGroup):
        if len(error.exceptions) != 1:
            return None
        lone = error = error.exceptions[0]
    return lone


class ungroup:  # lower case: it reads as a call beside trio.open_nursery()
    """``async with ungroup(), trio.open_nursery() as nursery:``: a lone exception out of the
    nursery is raised as itself (module docstring). Asynchronous only to share the nursery's
    ``async with`` line; it never awaits."""

    __slots__ = ()

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lone = None if error is None else lone_exception(error)
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

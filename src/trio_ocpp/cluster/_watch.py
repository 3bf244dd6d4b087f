"""Call watchers: what metrics and traces see of the calls that cross the cluster.

A watcher's ``sending`` wraps a call this node sends through the cluster (the whole path, to
the reply or the error), and may write into ``carried``: text that travels with the call
(a trace context). ``serving`` wraps the same call on the node that runs it, given what
arrived. Both return context managers entered on the calling task: they see the call's
exception, and a context variable they set holds for the charge point's own call.

A watcher may also be an :class:`EventWatcher`: told of each event the event stream delivers
to a consumer of this node, and how long after it was recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

__all__ = ["CallWatcher", "EventWatcher", "watching"]


@runtime_checkable
class CallWatcher(Protocol):
    def sending(
        self, identity: str, version: str, action: str, carried: dict[str, str]
    ) -> AbstractContextManager[object]: ...

    def serving(
        self, identity: str, version: str, action: str, carried: Mapping[str, str]
    ) -> AbstractContextManager[object]: ...


@runtime_checkable
class EventWatcher(Protocol):
    def event_delivered(self, group: str, lag: float) -> None:
        """An event reached a consumer of ``group`` ``lag`` seconds after a node recorded it
        (by the two hosts' clocks): how far the group is behind. Synchronous, on the reading
        task: nothing slow."""


def watching(
    watchers: Iterable[CallWatcher],
    serving: bool,
    identity: str,
    version: str,
    action: str,
    carried: dict[str, str],
) -> contextlib.ExitStack:
    """Every watcher's ``sending`` (or ``serving``) entered, in order, as one context."""
    stack = contextlib.ExitStack()
    with stack:  # a watcher that fails to enter exits those entered before it
        for watcher in watchers:
            hook = watcher.serving if serving else watcher.sending
            stack.enter_context(hook(identity, version, action, carried))
        return stack.pop_all()

"""Call watchers: what metrics and traces see of the calls that cross the cluster.

A watcher's ``sending`` wraps a call this node sends through the cluster (the whole path, to
the reply or the error), and may write into ``carried``: text that travels with the call
(a trace context). ``serving`` wraps the same call on the node that runs it, given what
arrived. Both return context managers entered on the calling task: they see the call's
exception, and a context variable they set holds for the charge point's own call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

__all__ = ["CallWatcher", "watching"]


@runtime_checkable
class CallWatcher(Protocol):
    def sending(
        self, identity: str, version: str, action: str, carried: dict[str, str]
    ) -> AbstractContextManager[object]: ...

    def serving(
        self, identity: str, version: str, action: str, carried: Mapping[str, str]
    ) -> AbstractContextManager[object]: ...


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

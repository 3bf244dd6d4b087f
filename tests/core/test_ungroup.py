"""The lone exception of a group (``_core/ungroup.py``), without an event loop."""

from __future__ import annotations

from trio_ocpp._core.ungroup import lone_exception


class Cancelled(BaseException):
    """Stands for trio.Cancelled: the core is given the type, it does not import trio."""


def test_a_group_of_one_gives_it_at_any_depth() -> None:
    error = KeyError("x")
    assert lone_exception(ExceptionGroup("", [error])) is error
    assert lone_exception(BaseExceptionGroup("", [ExceptionGroup("", [error])])) is error
    interrupt = KeyboardInterrupt()
    assert lone_exception(BaseExceptionGroup("", [interrupt]), Cancelled) is interrupt


def test_cancellations_beside_one_exception_are_left_aside() -> None:
    error = KeyError("x")
    group = BaseExceptionGroup("", [Cancelled(), BaseExceptionGroup("", [error, Cancelled()])])
    assert lone_exception(group, Cancelled) is error
    assert lone_exception(group) is None  # without the type, three exceptions


def test_cancellations_alone() -> None:
    one = Cancelled()
    assert lone_exception(BaseExceptionGroup("", [one]), Cancelled) is one
    # Several: the group stays, for trio's cancel scopes to split.
    assert lone_exception(BaseExceptionGroup("", [Cancelled(), Cancelled()]), Cancelled) is None


def test_anything_else_gives_none() -> None:
    assert lone_exception(KeyError("x")) is None  # no group: raised as it is anyway
    two = ExceptionGroup("", [KeyError("a"), KeyError("b")])
    assert lone_exception(two, Cancelled) is None
    assert lone_exception(ExceptionGroup("", [two])) is None
    with_cancelled = BaseExceptionGroup("", [KeyError("a"), KeyError("b"), Cancelled()])
    assert lone_exception(with_cancelled, Cancelled) is None

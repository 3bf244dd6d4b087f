"""The lone exception of a group (``_core/ungroup.py``), without an event loop."""

from __future__ import annotations

from trio_ocpp._core.ungroup import lone_exception


def test_a_group_of_one_gives_it_at_any_depth() -> None:
    error = KeyError("x")
    assert lone_exception(ExceptionGroup("", [error])) is error
    assert lone_exception(BaseExceptionGroup("", [ExceptionGroup("", [error])])) is error
    interrupt = KeyboardInterrupt()
    assert lone_exception(BaseExceptionGroup("", [interrupt])) is interrupt


def test_anything_else_gives_none() -> None:
    assert lone_exception(KeyError("x")) is None  # no group: raised as it is anyway
    assert lone_exception(ExceptionGroup("", [KeyError("a"), KeyError("b")])) is None
    nested_two = ExceptionGroup("", [ExceptionGroup("", [KeyError("a"), KeyError("b")])])
    assert lone_exception(nested_two) is None

"""The pytest plugin of trio_ocpp.testing (the ``pytest11`` entry point ``trio_ocpp``).

Fixtures give the kit's context managers: ``async with ocpp_pair(CSMS, Station) as pair``,
``ocpp_fake_charge_point``, ``ocpp_fake_central_system`` and ``ocpp_server``. With
``--ocpp-frames``, a failing test that used them gets the frames they carried in its report.
A test that uses none of them runs as it would without the plugin: the kit is imported only
when a fixture is asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

__all__ = [
    "ocpp_fake_central_system",
    "ocpp_fake_charge_point",
    "ocpp_pair",
    "ocpp_server",
]

#: The frame logs of what a test's fixtures made.
FRAME_LOGS = pytest.StashKey[list[Any]]()

Factory = Callable[..., AbstractAsyncContextManager[Any]]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("trio-ocpp").addoption(
        "--ocpp-frames",
        action="store_true",
        help="show the OCPP frames of a failing test's trio-ocpp fixtures in its report",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    logs = item.stash.get(FRAME_LOGS, None)
    if logs and report.failed and item.config.getoption("ocpp_frames"):
        from trio_ocpp.testing.frames_log import LEGEND

        shown = "\n\n".join(str(log) for log in logs)
        report.sections.append(("OCPP frames", f"({LEGEND})\n{shown}"))
    return report


def _logged(request: pytest.FixtureRequest, factory: Factory) -> Factory:
    """``factory``, keeping the frame log of what it makes for the test's report."""
    logs = request.node.stash.setdefault(FRAME_LOGS, [])

    @asynccontextmanager
    async def make(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with factory(*args, **kwargs) as made:
            logs.append(made.frames)
            yield made

    return make


@pytest.fixture
def ocpp_pair(request: pytest.FixtureRequest) -> Factory:
    """:func:`trio_ocpp.testing.connected_pair`."""
    from trio_ocpp.testing import connected_pair

    return _logged(request, connected_pair)


@pytest.fixture
def ocpp_fake_charge_point(request: pytest.FixtureRequest) -> Factory:
    """:func:`trio_ocpp.testing.fake_charge_point`."""
    from trio_ocpp.testing import fake_charge_point

    return _logged(request, fake_charge_point)


@pytest.fixture
def ocpp_fake_central_system(request: pytest.FixtureRequest) -> Factory:
    """:func:`trio_ocpp.testing.fake_central_system`."""
    from trio_ocpp.testing import fake_central_system

    return _logged(request, fake_central_system)


@pytest.fixture
def ocpp_server() -> Factory:
    """:func:`trio_ocpp.testing.serving`: ``async with ocpp_server(MyCentralSystem) as
    server``, a real server on a free port of 127.0.0.1."""
    from trio_ocpp.testing import serving

    return serving

"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.redis_server import RedisServer

from trio_ocpp._core.validation import ENGINES, set_validation_engine, validation_engine


@pytest.fixture(params=ENGINES)
def each_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per validation engine (jsonschema-rs, then jsonschema)."""
    try:
        set_validation_engine(request.param)
    except ImportError:
        pytest.skip(f"{request.param} is not installed: pip install -e '.[test]' installs it")
    try:
        yield validation_engine()
    finally:
        set_validation_engine(None)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, started (the cluster tests)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""The pytest plugin: fixtures for the kit, frames in a failing test's report, and nothing at
all for a project that does not use it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trio_ocpp.testing

pytest_plugins = ["pytester"]

PLAIN = """
import logging, warnings

def test_plain(request):
    print("@fixtures", sorted(request.fixturenames))
    print("@logging", logging.root.level, logging.root.handlers)
    print("@warnings", len(warnings.filters))

def test_failing():
    assert 1 == 2
"""

USING = """
import pytest
from trio_ocpp import v16
from trio_ocpp.routing import on

class CentralSystem(v16.ChargePoint):
    @on("Heartbeat")
    def on_heartbeat(self):
        return v16.call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")

@pytest.mark.trio
async def test_fails_after_a_heartbeat(ocpp_fake_charge_point):
    async with ocpp_fake_charge_point(CentralSystem) as cp:
        await cp.call("Heartbeat")
    assert False, "the application was wrong"
"""


def test_a_plain_test_sees_no_difference(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN)
    runs = {}
    for label, args in (("with", ["--ocpp-frames"]), ("without", ["-p", "no:trio_ocpp"])):
        result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=1, failed=1)
        lines = [line[line.index("@") :] for line in result.outlines if "@" in line]
        assert len(lines) == 3
        assert "OCPP frames" not in result.stdout.str()
        runs[label] = lines
    assert runs["with"] == runs["without"]


def test_the_plugin_is_registered_by_the_entry_point(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    assert config.pluginmanager.has_plugin("trio_ocpp")
    config = pytester.parseconfig("-p", "no:trio_ocpp")
    assert not config.pluginmanager.has_plugin("trio_ocpp")


@pytest.mark.parametrize("shown", [True, False])
def test_a_failing_test_reports_its_frames(pytester: pytest.Pytester, shown: bool) -> None:
    pytester.makepyfile(USING)
    result = pytester.runpytest("-p", "no:cacheprovider", *(["--ocpp-frames"] if shown else []))
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "the application was wrong" in output
    frames = 'CP_1 -> [2,"1","Heartbeat",{}]'
    assert (("OCPP frames" in output) and (frames in output)) is shown
    if shown:
        assert 'CP_1 <- [3,"1",{"currentTime":"2026-01-01T00:00:00Z"}]' in output


def test_the_kit_imports_pytest_only_in_its_plugin() -> None:
    package = Path(trio_ocpp.testing.__file__).parent
    importing = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "pytest" for name in names):
                importing.add(path.name)
    assert importing == {"pytest_plugin.py"}

"""Autobahn|Testsuite against an echo on our transport (RFC 6455 as its authors test it).

kosoku's fuzzing client runs the suite's own cases against a WebSocket server echoing on our
``WebSocketConnection``; every case must end OK, NON-STRICT or INFORMATIONAL, in its exchange
and in its closing handshake. Skipped where kosoku is missing, except in CI (CI=true), where its
absence fails the test.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
from typing import Any

import pytest
import trio

from trio_ocpp._transport.echo import echo

if os.environ.get("CI") == "true":
    import kosoku
else:
    kosoku = pytest.importorskip("kosoku")

#: 12.x and 13.x: permessage-deflate, which we do not negotiate (CONFORMANCE 36).
EXCLUDED = ["12.*", "13.*"]
#: The largest message: 9.1.6 and 9.2.6 send 16 MiB.
MAX_MESSAGE = 2**24
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


def fuzz(url: str) -> list[Any]:
    """The suite's results (kosoku runs on asyncio, in this thread)."""
    run = kosoku.run_fuzzingclient(url, exclude_cases=EXCLUDED, concurrency=4)
    try:
        return list(asyncio.run(run))
    except kosoku.FailureError as failure:
        return failure.results


async def test_the_autobahn_testsuite_passes_on_our_transport() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(
                trio.serve_tcp,
                functools.partial(echo, subprotocol=None, max_message_size=MAX_MESSAGE),
                0,
                host="127.0.0.1",
            )
        )
        port = listeners[0].socket.getsockname()[1]
        with trio.fail_after(300):
            url = f"ws://127.0.0.1:{port}"
            results = await trio.to_thread.run_sync(fuzz, url, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()
    counts = collections.Counter(result.behavior.value for result in results)
    print(f"Autobahn: {len(results)} cases: {dict(counts)}")
    failing = [
        f"{r.case_id}: {r.behavior.value} / {r.behavior_close.value}: {r.result} {r.result_close}"
        for r in results
        if r.behavior.value not in PASSING or r.behavior_close.value not in PASSING
    ]
    assert not failing, "\n".join(failing)
    assert len(results) > 200  # the suite ran, not a selection of it

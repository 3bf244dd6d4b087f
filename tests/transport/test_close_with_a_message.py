"""A message that came in the same read as the peer's Close frame is read before the close: the
answer a peer sends just before it closes gracefully (``stop_on_signals``) reaches its call."""

from __future__ import annotations

import json
import struct

import trio
from helpers.peers import CLOSE, TEXT, TIME, frame, opened, serving, text

from trio_ocpp import v16


async def test_an_answer_sent_with_the_close_reaches_the_call() -> None:
    async with serving() as server, opened(server) as peer:
        with trio.fail_after(5):
            while (cp := server.get("CP_1")) is None:
                await trio.sleep(0.01)
            results: list[v16.call_result.Heartbeat] = []
            async with trio.open_nursery() as nursery:

                async def heartbeat() -> None:
                    results.append(await cp.call(v16.call.Heartbeat()))

                nursery.start_soon(heartbeat)
                got = await peer.frame()
                assert got is not None and got[0] == TEXT
                unique_id = json.loads(got[1])[1]
                # One write: the server reads the CALLRESULT and the Close frame at once.
                answer = text([3, unique_id, {"currentTime": TIME}])
                await peer.stream.send_all(answer + frame(CLOSE, struct.pack("!H", 1001)))
        assert [r.current_time for r in results] == [TIME]
        assert cp.connection.closed is not None and cp.connection.closed.code == 1001

"""The example central system with its HTTP side, in a process of its own, and requests to it."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from helpers.processes import free_port, wait_listening

__all__ = ["Central", "central_system", "request"]

Reply = tuple[int, Any]


def request(url: str, body: Any = None, auth: str | None = None) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Central:
    def __init__(self, port: int, http: int) -> None:
        self.url = f"ws://127.0.0.1:{port}/"
        self.http = f"http://127.0.0.1:{http}"

    async def get(self, path: str, auth: str | None = None) -> Reply:
        return await trio.to_thread.run_sync(request, self.http + path, None, auth)

    async def post(self, path: str, body: Any) -> Reply:
        return await trio.to_thread.run_sync(request, self.http + path, body)


@asynccontextmanager
async def central_system(*options: str) -> AsyncIterator[Central]:
    port, http = free_port(), free_port()
    command = [sys.executable, "-m", "trio_ocpp", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--http", f"127.0.0.1:{http}", "--log-level", "WARNING", *options]
    process = await trio.lowlevel.open_process(command)
    try:
        with trio.fail_after(20):
            await wait_listening(port)
            await wait_listening(http)
        yield Central(port, http)
    finally:
        process.kill()
        await process.wait()

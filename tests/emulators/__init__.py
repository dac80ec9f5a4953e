"""Local emulators of the chat platforms' APIs, for end-to-end tests of the real client libraries.

Each emulator is an aiohttp server on 127.0.0.1 in a thread of its own with its own event loop,
so a test (in the main thread) drives it with plain method calls and reads what the bot sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


def json_body(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with exactly ``Content-Type: application/json`` (no charset, which discord.py refuses)."""
    return web.Response(
        body=json.dumps(payload).encode(), status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class EmulatorServer:
    """Runs an aiohttp application on a free port of 127.0.0.1 in a background thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.lock = threading.Lock()  # guards the emulator's records between test and server threads
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.call(self._start())

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop from the test thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def soon(self, callback: Callable[[], None]) -> None:
        self.loop.call_soon_threadsafe(callback)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

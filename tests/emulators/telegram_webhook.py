"""The webhook side of the Telegram emulator: Telegram's POSTs, through a reverse proxy, to the bots.

Once a bot called setWebhook, :class:`TelegramEmulator` hands each new update to
:class:`WebhookPusher`, which plays Telegram and the proxy in front of the bot processes: it POSTs
the update as JSON with the ``X-Telegram-Bot-Api-Secret-Token`` header to the webhook URL's path on
one backend (round robin), and retries another backend when one fails or does not answer, as a
proxy does. Tests can also post an update themselves, to a backend of their choice, with any secret
(:meth:`WebhookPusher.push`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ATTEMPTS = 40  # Telegram keeps trying for much longer; the tests' bots answer well before this


@dataclass
class Push:
    backend: str
    update_id: int
    status: int  # 0: no answer (connection refused, timeout)


@dataclass
class Hook:
    """What the bot asked for in setWebhook."""

    url: str
    secret_token: str | None


class WebhookPusher:
    def __init__(self) -> None:
        self.backends: list[str] = []  # host:port of each bot process behind the proxy
        self.pushes: list[Push] = []
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, hook: Hook, update: dict[str, Any]) -> None:
        """Post until one backend takes the update (2xx), trying the next one after a failure."""
        for attempt in range(ATTEMPTS):
            backend = self.backends[next(self._turn) % len(self.backends)]
            if 200 <= await self.post(hook, update, backend, hook.secret_token) < 300:
                return
            await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))

    async def post(self, hook: Hook, update: dict[str, Any], backend: str, secret: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        url = f"http://{backend}{urlsplit(hook.url).path}"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.post(url, data=json.dumps(update), headers=headers) as answer:
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.pushes.append(Push(backend, update["update_id"], status))
        return status

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

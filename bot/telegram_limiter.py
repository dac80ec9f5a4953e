"""One pace for every bot process of a token: Telegram's flood limits, counted in Redis.

Telegram limits a bot token, not a process: about 30 messages a second overall, about one a second
in a chat (short bursts allowed) and 20 a minute in a group or channel. PTB's ``AIORateLimiter``
counts per process, so two processes behind one webhook proxy send twice the rate and meet 429s.
:class:`SharedRateLimiter` is PTB's :class:`~telegram.ext.BaseRateLimiter` over sliding windows
kept in Redis sorted sets: a Lua script checks every window that applies to a request and, only
if all have room, records the send in all of them, atomically, with Redis's clock (so the
processes' clocks need not agree). When Telegram has answered, the send is stamped again with that
time: a send that left late (a busy event loop) still has Telegram see at most the limit in any
window. A request without a chat (getMe, setMyCommands) is not paced,
as with AIORateLimiter; PTB never passes getUpdates through a rate limiter.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

# KEYS: one sorted set per window; ARGV: limit and period (ms) of each, then the send's member.
# Returns 0 when the send is recorded, else the milliseconds until the fullest window has room.
ACQUIRE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, period = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local blocking = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(blocking[2]) + period - now)
  end
end
if wait > 0 then return wait end
local member = ARGV[2 * #KEYS + 1]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i]))
end
return 0
"""
# KEYS: the windows a send was recorded in; ARGV: their periods (ms), then the send's member.
RESTAMP_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now, ARGV[#KEYS + 1]) == 1 then
    redis.call('PEXPIRE', key, tonumber(ARGV[i]))
  end
end
return 0
"""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` sends in any ``period`` seconds."""

    limit: int
    period: float


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's published limits; a private chat may burst to three, averaging one a second."""

    overall: Window = Window(30, 1.0)
    chat: Window = Window(3, 3.0)
    group: Window = Window(20, 60.0)


class SharedRateLimiter(BaseRateLimiter[int]):
    """Paces the sends of all processes that share ``connection`` and ``namespace`` (one per token).

    A 429 that gets through all the same (another client on the token) is retried after its
    retry_after, ``max_retries`` times, then raised for the caller to wait out.
    """

    def __init__(
        self, connection: redis.Redis, namespace: str, limits: FloodLimits = FloodLimits(), max_retries: int = 3
    ) -> None:
        self.connection = connection
        self.prefix = f"{namespace}:flood"
        self.limits = limits
        self.max_retries = max_retries
        self._acquire = connection.register_script(ACQUIRE_SCRIPT)
        self._restamp = connection.register_script(RESTAMP_SCRIPT)
        self._sends = itertools.count()
        self._me = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # members must differ between processes

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        windows = self._windows(data.get("chat_id"))
        retries = rate_limit_args if rate_limit_args is not None else self.max_retries
        for attempt in itertools.count():
            member = await self._wait_for_room(windows) if windows else None
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                flooded = exc
            finally:
                if member is not None:
                    periods = [round(window.period * 1000) for window in windows.values()]
                    await asyncio.to_thread(self._restamp, keys=list(windows), args=[*periods, member])
            if attempt >= retries:
                raise flooded
            seconds = _retry_seconds(flooded)
            logger.info("Telegram asked to slow down (%s): retrying in %.1f s", endpoint, seconds)
            await asyncio.sleep(seconds + 0.1)
        raise AssertionError("unreachable")

    def _windows(self, chat_id: object) -> dict[str, Window]:
        """The windows a request counts against: none without a chat, else overall and its chat's."""
        if chat_id is None:
            return {}
        chat = str(chat_id)
        # A negative id or an @username is a group or channel (AIORateLimiter reads them so too).
        group = chat.startswith(("-", "@"))
        return {
            f"{self.prefix}:all": self.limits.overall,
            f"{self.prefix}:chat:{chat}": self.limits.group if group else self.limits.chat,
        }

    async def _wait_for_room(self, windows: dict[str, Window]) -> str:
        """Wait until every window has room and record the send; its member in the windows."""
        member = f"{self._me}-{next(self._sends)}"
        args: list[int | str] = [
            value for window in windows.values() for value in (window.limit, round(window.period * 1000))
        ]
        while True:
            wait_ms = await asyncio.to_thread(self._acquire, keys=list(windows), args=[*args, member])
            if not wait_ms:
                return member
            await asyncio.sleep(int(wait_ms) / 1000)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        seconds = exc.retry_after
    return float(seconds) if isinstance(seconds, int | float) else seconds.total_seconds()

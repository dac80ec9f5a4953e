"""One flood limit per token, shared in Redis by every bot process: real Redis, real PTB processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.telegram_limiter import FloodLimits, SharedRateLimiter, Window
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import wait_for
from tests.test_telegram_webhook import start_webhook_bot

# The limiter counts in whole milliseconds of Redis's clock, the emulator in its own.
JITTER_S = 0.01


def busiest(times: list[float], period: float) -> int:
    """The most sends in any window of ``period`` seconds."""
    ordered = sorted(times)
    first, most = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= period:
            first += 1
        most = max(most, last - first + 1)
    return most


def run_requests(limiters: list[SharedRateLimiter], chats: list[Any]) -> list[float]:
    """Send one request per chat id, spread over ``limiters`` as over processes; their send times."""
    sent: list[float] = []

    async def send() -> bool:
        sent.append(time.monotonic())
        return True

    async def all_of_them() -> None:
        await asyncio.gather(
            *(
                limiters[index % len(limiters)].process_request(send, (), {}, "sendMessage", {"chat_id": chat}, None)
                for index, chat in enumerate(chats)
            )
        )

    asyncio.run(all_of_them())
    return sent


def limiters_of_two_processes(connection, limits: FloodLimits) -> list[SharedRateLimiter]:
    return [SharedRateLimiter(connection, "bot:telegram:123", limits) for _ in range(2)]


def test_two_limiters_keep_a_group_within_its_window_together(connection):
    """Two processes send 9 messages to one group, limited to 3 a second: three seconds' worth."""
    # The private window is far stricter (one a second), so a group paced as a private chat takes
    # eight seconds and never sends three at once: the two windows cannot be mistaken here.
    limits = FloodLimits(chat=Window(1, 1.0), group=Window(3, 1.0))
    sent = run_requests(limiters_of_two_processes(connection, limits), [-1001234] * 9)
    assert len(sent) == 9
    assert busiest(sent, 1.0 - JITTER_S) == 3  # the group's window, filled
    assert 2.0 - JITTER_S <= max(sent) - min(sent) < 3.0  # 3 now, 3 after one second, 3 after two


def test_the_overall_window_counts_every_chat_and_a_private_chat_may_burst(connection):
    """Overall 5 a second over many chats; one private chat bursts to its window, then waits."""
    limits = FloodLimits(overall=Window(5, 1.0), chat=Window(2, 1.0))
    sent = run_requests(limiters_of_two_processes(connection, limits), list(range(1, 11)))
    assert busiest(sent, 1.0 - JITTER_S) <= 5 and max(sent) - min(sent) >= 1.0 - JITTER_S
    connection.flushdb()
    burst = run_requests(limiters_of_two_processes(connection, limits), [42] * 3)
    ordered = sorted(burst)
    assert ordered[1] - ordered[0] < 0.5 <= ordered[2] - ordered[0] + JITTER_S  # two at once, the third later


def test_a_request_without_a_chat_is_not_paced(connection):
    """getMe, setMyCommands and the like do not count against the message limits."""
    limits = FloodLimits(overall=Window(1, 10.0))
    sent = run_requests(limiters_of_two_processes(connection, limits), [None] * 5)
    assert max(sent) - min(sent) < 1.0


def test_a_429_is_retried_after_retry_after_then_raised(connection):
    """A 429 that gets through (another client of the token) waits retry_after; past max_retries it is raised."""
    limiter = SharedRateLimiter(connection, "bot:telegram:123", max_retries=1)
    calls: list[float] = []

    async def flooded() -> bool:
        calls.append(time.monotonic())
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        asyncio.run(limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 5}, None))
    assert len(calls) == 2 and calls[1] - calls[0] >= 1.0


@pytest.mark.slow
def test_two_bot_processes_together_send_at_most_30_messages_a_second(
    telegram_api: TelegramEmulator, start_telegram_bot
):
    """80 users at once, each process answering its half: the combined rate stays within 30/s."""
    first, _ = start_webhook_bot(start_telegram_bot, telegram_api)
    second, _ = start_webhook_bot(start_telegram_bot, telegram_api)
    chats = range(5000, 5080)
    for chat in chats:
        telegram_api.user_says("/help", chat_id=chat)
    wait_for(lambda: all(telegram_api.chat(chat) for chat in chats), timeout=60)
    sent = [call.at for call in telegram_api.calls_of("sendMessage") if call.status == 200]
    assert len(sent) == 80
    assert busiest(sent, 1.0 - JITTER_S) <= 30
    assert max(sent) - min(sent) >= 2.0 - JITTER_S  # 30, 30 and 20: each process alone would send 40 at once
    took = {
        backend: sum(1 for p in telegram_api.pusher.pushes if p.backend == backend and p.status == 200)
        for backend in (first, second)
    }
    assert min(took.values()) >= 30, took  # both processes answered a good share

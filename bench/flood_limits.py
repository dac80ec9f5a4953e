"""Telegram's flood limits with two bot processes of one token (``python bench/load.py --flood``).

Telegram counts a token's sends, not a process's: about 30 a second overall, about one a second in
a chat, 20 a minute in a group. First PTB's ``AIORateLimiter`` (one per process, the library's own)
beside our ``SharedRateLimiter`` (one in Redis for all), each in two Applications sending to many
chats at once; then two real ``python -m bot telegram`` processes in webhook mode behind the
emulator's proxy answering many users at once, and outbox messages to one chat and one group.
Each line prints the busiest window the emulator saw against the limit.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis
from harness import REPO

from bot.telegram import build_application
from common import outbox
from common.embedded_redis import free_port
from common.jobs import OutboxMessage, ReplyTo
from tests.emulators.telegram_api import TelegramEmulator

SECRET = "bench-webhook-secret"  # noqa: S105 (the emulator's)


def busiest(times: list[float], period: float) -> int:
    """The most sends in any window of ``period`` seconds."""
    ordered, first, most = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= period:
            first += 1
        most = max(most, last - first + 1)
    return most


def sent_to(api: TelegramEmulator, chats: set[int]) -> list[float]:
    calls = api.calls_of("sendMessage") + api.calls_of("editMessageText")
    return [c.at for c in calls if c.status == 200 and int(c.params.get("chat_id", 0)) in chats]


def line(label: str, times: list[float], period: float, limit: int) -> str:
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return (
        f"{label:<58} {len(times):4d} sends in {span:5.1f} s, busiest {period:g} s: {busiest(times, period):3d} "
        f"(limit {limit})"
    )


async def _two_applications(token: str, api: TelegramEmulator, connection: redis.Redis | None, chats: range) -> None:
    apps = [build_application(token, api.base_url, connection=connection) for _ in range(2)]
    for app in apps:
        await app.initialize()
    try:
        await asyncio.gather(*(apps[i % 2].bot.send_message(chat, "flood") for i, chat in enumerate(chats)))
    finally:
        for app in apps:
            await app.shutdown()


def peers(token: str, api: TelegramEmulator, connection: redis.Redis, users: int) -> None:
    for index, (label, shared) in enumerate(
        (("AIORateLimiter, one per process", None), ("SharedRateLimiter, one in Redis", connection))
    ):
        chats = range(700_000 + index * 10_000, 700_000 + index * 10_000 + users)
        asyncio.run(_two_applications(token, api, shared, chats))
        print(line(f"2 Applications, {label}", sent_to(api, set(chats)), 1.0, 30))


def start_webhook_bot(env: dict[str, str], api: TelegramEmulator, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    backend = f"127.0.0.1:{free_port()}"
    hook = {
        "TELEGRAM_WEBHOOK_URL": "https://bench.example.org/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_LISTEN": backend,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, **hook},
        )
    deadline = time.monotonic() + 60
    while "takes Telegram's webhook posts" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the webhook bot did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    api.pusher.backends.append(backend)
    return process, backend


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the bots did not send everything in time")
        time.sleep(0.02)


def processes(api: TelegramEmulator, connection: redis.Redis, backends: list[str], users: int, group: bool) -> None:
    chats = set(range(800_000, 800_000 + users))
    for chat in sorted(chats):
        api.user_says("/help", chat_id=chat, user_id=chat)
    wait_until(lambda: len(sent_to(api, chats)) >= users, 30 + users / 10)
    taken = {b: sum(1 for p in api.pusher.pushes if p.backend == b and p.status == 200) for b in backends}
    print(
        line(f"2 bot processes, {users} users at once", sent_to(api, chats), 1.0, 30)
        + "; updates per process: "
        + ", ".join(map(str, taken.values()))
    )
    for chat, count, period, limit, label in (
        (900_001, 9, 3.0, 3, "one private chat"),
        (-100_900_002, 21, 60.0, 20, "one group"),
    ):
        if chat < 0 and not group:
            continue
        reply = ReplyTo(outbox="telegram", chat=str(chat))
        for number in range(count):
            outbox.post(
                connection,
                OutboxMessage(reply=reply, kind="text", job_id=f"flood{chat}-{number}", text=f"message {number}"),
            )

        def all_sent(chat: int = chat, count: int = count) -> bool:
            return len(sent_to(api, {chat})) >= count

        wait_until(all_sent, 10 + count * period)
        print(line(f"2 bot processes, {count} outbox messages to {label}", sent_to(api, {chat}), period, limit))


def run(token: str, env: dict[str, str], root: Path, url: str, users: int, group: bool) -> None:
    api = TelegramEmulator(token).start()
    connection = redis.Redis.from_url(url)
    bots: list[subprocess.Popen[bytes]] = []
    try:
        peers(token, api, connection, users)
        env = {**env, "TELEGRAM_TOKEN": token, "TELEGRAM_API_URL": api.base_url}
        started = [start_webhook_bot(env, api, root / f"webhook-bot-{i}.log") for i in range(2)]
        bots = [process for process, _ in started]
        processes(api, connection, [backend for _, backend in started], users, group)
    finally:
        for bot in bots:
            bot.terminate()
            bot.wait(30)
        api.stop()

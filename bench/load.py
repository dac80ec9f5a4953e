"""Many chat users at once, through the Telegram emulator, two bot processes and 1, 2, 4 workers.

    python bench/load.py [--users 20] [--per-user 10]
    python bench/load.py --flood [--users 150] [--group]   # Telegram's flood limits, two processes

Starts its own redis-server, trains the models, starts the Bot API emulator of the tests and two
`python -m bot telegram` processes against it. For 1, 2 and 4 worker processes on the `predict`
queue (pictures are drawn by one more process on `render`), each user sends its next command
when the previous verdict arrived (closed loop), and the run prints p50/p95/p99 latency from the
user's message to the verdict in the chat, and verdicts per second. Then it shows the limits: one
user flooding gets at most USER_JOBS_PER_MINUTE jobs; with no worker running, a flood of users
fills the queue to MAX_QUEUE_LENGTH and the rest are told the bot is busy.

``--flood`` instead shows the sends of two bot processes staying within Telegram's flood limits
together (``bench/flood_limits.py``; ``--group`` adds the 20-a-minute group limit, a minute more).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import flood_limits
import redis
from harness import (
    DEFAULT_TITANIC_CSV,
    REPO,
    drain_rate,
    percentile,
    process_env,
    start_redis,
    start_workers,
    stop,
    train_models,
)

from common.queues import PREDICT, JobQueue
from tests.emulators.telegram_api import TelegramEmulator

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ao"  # noqa: S105 (the emulator's, not a real one)
COMMANDS = ("/iris 5.1 3.5 1.4 0.2", "/titanic pclass=3 sex=male age=22 sibsp=1 parch=0 fare=7.25 embarked=S")
VERDICT_MARKS = ("Iris:", "Titanic:")
JOBS_PER_MINUTE = 30
MAX_QUEUE = 150


class ChatLog:
    """Reads the emulator's record of calls incrementally: verdicts and busy answers per chat."""

    def __init__(self, api: TelegramEmulator) -> None:
        self.api = api
        self._seen = 0

    def new_texts(self) -> list[tuple[int, str, float]]:
        with self.api.server.lock:
            calls = self.api.calls[self._seen :]
            self._seen += len(calls)
        return [
            (int(call.params.get("chat_id", 0)), str(call.params.get("text") or call.params.get("caption", "")),
             call.at)
            for call in calls
            # A quick verdict comes as the caption of its photo (bot/quick.py).
            if call.method in {"sendMessage", "editMessageText", "sendPhoto"} and call.status == 200
        ]


def closed_loop(api: TelegramEmulator, users: int, per_user: int, first_chat: int) -> tuple[list[float], float]:
    """Each user sends its next command once the verdict of the last one is in the chat."""
    log = ChatLog(api)
    log.new_texts()
    chats = list(range(first_chat, first_chat + users))
    sent_at: dict[int, float] = {}
    remaining = dict.fromkeys(chats, per_user)
    commands = itertools.cycle(COMMANDS)
    latencies: list[float] = []
    started = time.monotonic()
    for chat in chats:
        sent_at[chat] = time.monotonic()
        api.user_says(next(commands), chat_id=chat, user_id=chat)
    deadline = started + 60 + users * per_user * 0.2
    while sent_at and time.monotonic() < deadline:
        for chat, text, at in log.new_texts():
            if chat in sent_at and text.startswith(VERDICT_MARKS):
                latencies.append(at - sent_at.pop(chat))
                remaining[chat] -= 1
                if remaining[chat]:
                    sent_at[chat] = time.monotonic()
                    api.user_says(next(commands), chat_id=chat, user_id=chat)
        time.sleep(0.002)
    if sent_at:
        raise RuntimeError(f"{len(sent_at)} users still wait for an answer")
    return latencies, time.monotonic() - started


def flood(api: TelegramEmulator, chats: range, per_chat: int) -> tuple[int, int]:
    """Send ``per_chat`` commands from each chat at once; count queued and 'busy' answers."""
    log = ChatLog(api)
    log.new_texts()
    for chat, _ in itertools.product(chats, range(per_chat)):
        api.user_says(COMMANDS[0], chat_id=chat, user_id=chat)
    queued = busy = 0
    deadline = time.monotonic() + 60
    while queued + busy < len(chats) * per_chat and time.monotonic() < deadline:
        for chat, text, _ in log.new_texts():
            if chat in chats:
                queued += text.startswith(("Queued as job", "Working on it"))
                busy += "busy, try again" in text
        time.sleep(0.01)
    return queued, busy


def start_bot(env: dict[str, str], api: TelegramEmulator, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": api.base_url},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--titanic-csv", default=DEFAULT_TITANIC_CSV)
    parser.add_argument("--flood", action="store_true", help="only the flood-limit run of two bot processes")
    parser.add_argument("--group", action="store_true", help="with --flood: the group limit too (a minute)")
    args = parser.parse_args()
    if args.flood:
        with tempfile.TemporaryDirectory() as scratch:
            server, url = start_redis(Path(scratch) / "redis")
            try:
                users = args.users if args.users != parser.get_default("users") else 150
                flood_limits.run(TOKEN, process_env(Path(scratch), url, Path(scratch) / "models"), Path(scratch), url,
                          users, args.group)
            finally:
                stop(server)
        return
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server, url = start_redis(root / "redis")
        env = process_env(
            root,
            url,
            train_models(root, args.titanic_csv),
            USER_JOBS_PER_MINUTE=str(JOBS_PER_MINUTE),
            MAX_QUEUE_LENGTH=str(MAX_QUEUE),
        )
        api = TelegramEmulator(TOKEN).start()
        bots = [start_bot(env, api, root / f"bot-{i}.log") for i in range(2)]
        renderer = start_workers(env, "render")
        connection = redis.Redis.from_url(url)
        try:
            while len(api.calls_of("setMyCommands")) < 2:
                time.sleep(0.05)
            print(f"{args.users} users x {args.per_user} commands, 2 bot processes, closed loop")
            print(
                f"{'workers':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'verdicts/s':>11} {'scaling':>8} "
                f"{'sends/s':>8}"
            )
            base_rate = 0.0
            for index, count in enumerate((1, 2, 4)):
                workers = start_workers(env, PREDICT, count)
                closed_loop(api, 2, 2, first_chat=10_000 + index * 10)  # warm-up: models load
                sends_before = len(api.calls) - len(api.calls_of("getUpdates"))
                latencies, elapsed = closed_loop(api, args.users, args.per_user, first_chat=1000 * (index + 1))
                # Bot API calls other than polling: what Telegram's flood limit counts.
                sends = len(api.calls) - len(api.calls_of("getUpdates")) - sends_before
                rate = len(latencies) / elapsed
                base_rate = base_rate or rate
                print(
                    f"{count:7d} {percentile(latencies, 0.5) * 1e3:6.0f}ms {percentile(latencies, 0.95) * 1e3:6.0f}ms "
                    f"{percentile(latencies, 0.99) * 1e3:6.0f}ms {rate:11.1f} {rate / base_rate:7.2f}x "
                    f"{sends / elapsed:8.1f}"
                )
                stop(workers)
            rates = [drain_rate(connection, env, 3000, processes) for processes in (1, 2, 4)]
            print(
                "workers alone, draining 3000 queued iris jobs: "
                + ", ".join(f"{p} process(es) {r:.0f} jobs/s" for p, r in zip((1, 2, 4), rates, strict=True))
            )
            queued, busy = flood(api, range(50_000, 50_001), JOBS_PER_MINUTE + 10)
            print(
                f"one user sends {JOBS_PER_MINUTE + 10} at once: {queued} queued, {busy} told busy "
                f"(limit {JOBS_PER_MINUTE}/min)"
            )
            queued, busy = flood(api, range(60_000, 60_000 + 25), 8)
            waiting = JobQueue(connection).waiting(PREDICT)
            print(
                f"no worker, 25 users x 8 more: {queued} queued, {busy} told busy; queue length {waiting} "
                f"(limit {MAX_QUEUE}; the check is not atomic, so racing bots may overshoot it by a few)"
            )
        finally:
            for process in (*bots, renderer):
                stop(process)
            api.stop()
            stop(server)


if __name__ == "__main__":
    main()

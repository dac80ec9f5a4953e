"""/stats for the bot's admins: day counters kept by bots and workers, bounded and expiring."""

from __future__ import annotations

import time

import pytest

from bot.access import Access, AccessRules
from bot.commands import Commands
from bot.queue_watch import QueueWatch
from common import usage
from common.jobs import ReplyTo
from common.queues import PREDICT, TRANSCRIBE, JobQueue
from tests.emulators.discord_api import USER as DISCORD_USER
from tests.helpers import stop_process, wait_for

ADMIN, MEMBER = ReplyTo("telegram", "7", user="7"), ReplyTo("telegram", "9", user="9")
DAY_S = 24 * 3600


def test_a_period_adds_up_its_days_and_users_are_counted_once(connection):
    yesterday = usage.day(time.time() - DAY_S)
    for user in ("telegram:1", "telegram:2", "telegram:1"):
        usage.queued(connection, PREDICT, user)
    connection.set(f"usage:{yesterday}:jobs:{PREDICT}", 5)
    connection.pfadd(f"usage:{yesterday}:users", "telegram:3", "telegram:1")
    usage.ran(connection, TRANSCRIBE, wait_s=2.0, run_s=30.0, audio_s=120.0)
    usage.ran(connection, TRANSCRIBE, wait_s=4.0, run_s=10.0, audio_s=60.0)
    usage.failed(connection, PREDICT)
    today, week = (usage.period(connection, (PREDICT, TRANSCRIBE), days) for days in (1, 7))
    assert (today.jobs[PREDICT], week.jobs[PREDICT], today.users, week.users) == (3, 8, 2, 3)
    assert today.failed == {PREDICT: 1, TRANSCRIBE: 0}
    assert today.speech_s == 180.0 and sorted(today.runs[TRANSCRIBE]) == [10.0, 30.0]
    assert usage.percentiles(today.waits[TRANSCRIBE]) == (3.0, 4.0)
    assert usage.percentiles([]) is None
    assert 0 < connection.ttl(f"usage:{usage.day()}:users") <= usage.KEEP_DAYS * DAY_S


def test_samples_of_a_day_are_bounded(connection):
    for _ in range(usage.SAMPLES + 10):
        usage.ran(connection, PREDICT, wait_s=0.1, run_s=0.01)
    assert connection.llen(f"usage:{usage.day()}:run:{PREDICT}") == usage.SAMPLES


def test_only_admins_see_stats(connection):
    access = Access(connection, AccessRules(admins=frozenset({"tg:7"})))
    commands = Commands(JobQueue(connection), access=access, watch=QueueWatch(connection, cache_s=0))
    commands.handle("/iris 5.1 3.5 1.4 0.2", MEMBER)
    assert commands.handle("/stats", MEMBER).text == "Only this bot's admins (ADMIN_USERS) see /stats."
    figures = commands.handle("/stats", ADMIN).text
    assert "predictions: 1 / 1 jobs, 0 / 0 failed" in figures
    assert "distinct users: 1 / 1" in figures and "Now: predictions 1 waiting, 0 workers" in figures
    console = Commands(JobQueue(connection), access=access)
    assert console.handle("/stats", ReplyTo("console-1", "console")).text.startswith("Today / the last 7 days")


@pytest.mark.slow
def test_telegram_stats_after_real_jobs(telegram_api, start_telegram_bot, worker_process, connection):
    start_telegram_bot(ADMIN_USERS="tg:7", QUICK_ANSWER_S="0")
    telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=9, user_id=9)
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=7, user_id=7)
    telegram_api.user_says("/titanic pclass=1 sex=female age=29", chat_id=7, user_id=7)
    wait_for(lambda: len(connection.lrange(f"usage:{usage.day()}:run:{PREDICT}", 0, -1)) == 3, timeout=60)
    telegram_api.user_says("/stats", chat_id=9, user_id=9)
    telegram_api.user_says("/stats", chat_id=7, user_id=7)
    wait_for(lambda: any(m.text and "/stats" in m.text for m in telegram_api.chat(9)))
    figures = wait_for(lambda: [m.text for m in telegram_api.chat(7) if m.text and m.text.startswith("Today")])[0]
    assert "predictions: 3 / 3 jobs, 0 / 0 failed; wait " in figures, figures
    assert "distinct users: 2 / 2" in figures and "predictions 0 waiting, " in figures


@pytest.mark.slow
def test_discord_stats_for_an_admin_only(discord_api, start_discord_bot, connection):
    first = start_discord_bot(ADMIN_USERS="dc:1")
    discord_api.slash("stats")
    [refused] = wait_for(lambda: discord_api.channel())
    assert refused.content == "Only this bot's admins (ADMIN_USERS) see /stats."
    stop_process(first)  # every connected bot gets each interaction: only the owner's must answer
    start_discord_bot(ADMIN_USERS=f"dc:{DISCORD_USER['id']}")
    discord_api.slash("stats")
    wait_for(lambda: len(discord_api.channel()) >= 2)
    assert any(m.content.startswith("Today / the last 7 days") for m in discord_api.channel())
